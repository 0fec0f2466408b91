import { createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from './config.js';

/** The same rule as GATEHOUSE_SECRET's: anything shorter is guessable, an empty one computable by anyone. */
const MIN_SECRET_LENGTH = 32;

/**
 * GATEHOUSE_SECRET, or in development without it a secret generated once into
 * `<dataDir>/secret` (mode 0600) and reused on every start.
 */
export async function resolveMasterSecret(configured: string | undefined, dataDir: string, log: (line: string) => void): Promise<string> {
  if (configured) return configured;
  const file = join(dataDir, 'secret');
  if (existsSync(file)) {
    const secret = (await readFile(file, 'utf8')).trim();
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new ConfigError(
        `the secret in ${file} is ${secret.length} characters long; it must be at least ${MIN_SECRET_LENGTH} characters (restore the file from a backup, or set GATEHOUSE_SECRET)`,
      );
    }
    log(`GATEHOUSE_SECRET is not set: using the generated secret in ${file}`);
    return secret;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  log(`GATEHOUSE_SECRET is not set: generated one into ${file} (mode 0600). Set GATEHOUSE_SECRET in production.`);
  return secret;
}

/**
 * Independent keys for each use of the master secret (HKDF-SHA256, RFC 5869),
 * as KeyObjects made once: given raw bytes, Node 24's createHmac and
 * createCipheriv first try the key as a KeyObject and a CryptoKey, each by
 * catching an exception, on every call (~11 µs, and more on a request's deep
 * stack: ~8% of the event loop per client-credentials token, whose secret is
 * checked with an HMAC); a KeyObject is taken at once.
 */
export interface DerivedSecrets {
  /** Signs oidc-provider's cookies. */
  readonly cookieKeys: string[];
  /** AES-256-GCM key for signing keys' private parts. */
  readonly keyEncryptionKey: KeyObject;
  /** HMAC key for client secrets at rest. */
  readonly clientSecretKey: KeyObject;
  /** HMAC key for the CSRF tokens of our own forms. */
  readonly csrfKey: KeyObject;
  /** AES-256-GCM key for protocol ids kept beside their hash (sessions, device codes). */
  readonly payloadSealKey: KeyObject;
  /** AES-256-GCM key for TOTP secrets, and HMAC key for recovery codes (src/mfa/). */
  readonly mfaKeys: { readonly sealKey: KeyObject; readonly codeKey: KeyObject };
}

export function deriveSecrets(masterSecret: string): DerivedSecrets {
  const bytes = (purpose: string) => Buffer.from(hkdfSync('sha256', masterSecret, 'gatehouse', purpose, 32));
  const derive = (purpose: string) => createSecretKey(bytes(purpose));
  return {
    cookieKeys: [bytes('cookie-signing').toString('base64url')],
    keyEncryptionKey: derive('signing-key-encryption'),
    clientSecretKey: derive('client-secret-hashing'),
    csrfKey: derive('csrf'),
    payloadSealKey: derive('payload-id-sealing'),
    mfaKeys: { sealKey: derive('mfa-secret-encryption'), codeKey: derive('mfa-recovery-code-hashing') },
  };
}
