import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { Page } from './browser.js';

/**
 * A software WebAuthn authenticator for tests: real ES256 keys from
 * node:crypto, `none` attestation, CBOR written by hand. It answers the
 * options a Gatehouse page carries the way a browser's authenticator would,
 * and can be told to lie (another origin or RP ID, an old counter, no user
 * verification).
 */
export class SoftwareAuthenticator {
  private readonly credentials: { id: Buffer; key: KeyObject; counter: number; userHandle: string; rpId: string }[] = [];

  constructor(private readonly origin: string) {}

  register(options: CreationOptions, lie: { origin?: string; rpId?: string } = {}): Record<string, unknown> {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = randomBytes(16);
    const rpId = lie.rpId ?? options.rp.id;
    const jwk = publicKey.export({ format: 'jwk' });
    const coseKey = new Map<number, unknown>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x as string, 'base64url')],
      [-3, Buffer.from(jwk.y as string, 'base64url')],
    ]);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(id.length);
    // UP | UV | AT (WebAuthn §6.1 flags), counter 0, an all-zero AAGUID.
    const authData = Buffer.concat([sha256(rpId), Buffer.from([0x45]), Buffer.alloc(4), Buffer.alloc(16), length, id, cbor(coseKey)]);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: lie.origin ?? this.origin, crossOrigin: false }),
    );
    this.credentials.push({ id, key: privateKey, counter: 0, userHandle: options.user.id, rpId: options.rp.id });
    return {
      id: id.toString('base64url'),
      rawId: id.toString('base64url'),
      type: 'public-key',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        attestationObject: cbor(
          new Map<string, unknown>([
            ['fmt', 'none'],
            ['attStmt', new Map()],
            ['authData', authData],
          ]),
        ).toString('base64url'),
        transports: ['internal'],
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }

  /** Signs a sign-in; `counter` replays a given count instead of the next one. */
  authenticate(
    options: RequestOptions,
    lie: { origin?: string; rpId?: string; counter?: number; userVerified?: boolean } = {},
  ): Record<string, unknown> {
    const allowed = (options.allowCredentials ?? []).map((credential) => credential.id);
    const credential = this.credentials.find(
      (candidate) => candidate.rpId === options.rpId && (allowed.length === 0 || allowed.includes(candidate.id.toString('base64url'))),
    );
    if (!credential) throw new Error('no credential for this request');
    if (lie.counter === undefined) credential.counter += 1;
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(lie.counter ?? credential.counter);
    const flags = lie.userVerified === false ? 0x01 : 0x05;
    const authenticatorData = Buffer.concat([sha256(lie.rpId ?? options.rpId), Buffer.from([flags]), counter]);
    const clientDataJSON = Buffer.from(
      JSON.stringify({ type: 'webauthn.get', challenge: options.challenge, origin: lie.origin ?? this.origin, crossOrigin: false }),
    );
    const signature = sign('sha256', Buffer.concat([authenticatorData, sha256(clientDataJSON)]), credential.key);
    return {
      id: credential.id.toString('base64url'),
      rawId: credential.id.toString('base64url'),
      type: 'public-key',
      response: {
        clientDataJSON: clientDataJSON.toString('base64url'),
        authenticatorData: authenticatorData.toString('base64url'),
        signature: signature.toString('base64url'),
        userHandle: credential.userHandle,
      },
      clientExtensionResults: {},
      authenticatorAttachment: 'platform',
    };
  }
}

interface CreationOptions {
  readonly challenge: string;
  readonly rp: { readonly id: string };
  readonly user: { readonly id: string };
}
interface RequestOptions {
  readonly challenge: string;
  readonly rpId: string;
  readonly allowCredentials?: { readonly id: string }[];
}

/** The options JSON a page's passkey form carries (form action containing `action`). */
export function passkeyOptions<T = CreationOptions & RequestOptions>(page: Page, action: string): T {
  for (const match of page.html.matchAll(/<form\b([^>]*)>/gi)) {
    const attributes = match[1] ?? '';
    if (!attributes.includes(action)) continue;
    const encoded = /data-passkey-options="([^"]*)"/.exec(attributes)?.[1];
    if (encoded) return JSON.parse(decode(encoded)) as T;
  }
  throw new Error(`no passkey form for ${action} at ${page.url}`);
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();

function decode(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** RFC 8949 CBOR, for what attestation needs: integers, byte and text strings, maps. */
function cbor(value: unknown): Buffer {
  const head = (major: number, length: number) => {
    if (length < 24) return Buffer.from([(major << 5) | length]);
    if (length < 256) return Buffer.from([(major << 5) | 24, length]);
    const bytes = Buffer.alloc(3);
    bytes[0] = (major << 5) | 25;
    bytes.writeUInt16BE(length, 1);
    return bytes;
  };
  if (typeof value === 'number') return value >= 0 ? head(0, value) : head(1, -1 - value);
  if (Buffer.isBuffer(value)) return Buffer.concat([head(2, value.length), value]);
  if (typeof value === 'string') {
    const bytes = Buffer.from(value);
    return Buffer.concat([head(3, bytes.length), bytes]);
  }
  if (value instanceof Map) {
    return Buffer.concat([head(5, value.size), ...[...value].flatMap(([key, item]) => [cbor(key), cbor(item)])]);
  }
  throw new Error(`cannot encode ${typeof value}`);
}
