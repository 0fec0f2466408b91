import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject, sign } from 'node:crypto';
import { ExternalSigningKey } from 'oidc-provider';
import type { PrivateJwk } from '../keys/signing-keys.js';
import { engineContextStore } from './provider-internals.js';

/**
 * oidc-provider's `externalSigningSupport` (its documented seam for keys it
 * does not hold: KMS, HSM), acknowledged at the version Gatehouse is built
 * against (oidc-provider is pinned in package.json; a new version with a
 * new ack fails at start, not silently).
 */
export const EXTERNAL_SIGNING_FEATURE = { enabled: true, ack: 'experimental-01' } as const;

/**
 * Gatehouse's signing keys as the engine's `jwks.keys`: each signs with
 * node:crypto on libuv's thread pool (RSASSA-PKCS1-v1_5 with SHA-256,
 * RFC 7518 §3.3) instead of the engine's default path (jose's CompactSign
 * over WebCrypto). The signature is the same; the request's own thread does
 * less per token (no WebCrypto algorithm normalisation, no jose header
 * checks: oidc-provider assembles the JWS itself, RFC 7515 §7.1), measured in
 * `npm run bench` (docs/performance.md). The engine publishes the public part
 * (`kty`, `n`, `e`, `kid`, `alg`, `use`) from `keyObject()`, never the private one.
 */
export function engineSigningKeys(keys: readonly PrivateJwk[]): ExternalSigningKey[] {
  return keys.map((jwk) => new ThreadPoolSigningKey(jwk));
}

class ThreadPoolSigningKey extends ExternalSigningKey {
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;

  constructor(jwk: PrivateJwk) {
    super();
    // Gatehouse generates RS256 keys only (keys/signing-keys.ts); anything else is a corrupted row, said at start.
    if (jwk.kty !== 'RSA' || jwk.alg !== 'RS256')
      throw new Error(`signing key ${jwk.kid}: only RS256 RSA keys are supported, not ${jwk.alg}`);
    // The engine's class has setters for both; its type declarations list only the getters.
    Object.assign(this as object, { kid: jwk.kid, alg: jwk.alg });
    this.#privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    this.#publicKey = createPublicKey(this.#privateKey);
  }

  override keyObject(): KeyObject {
    return this.#publicKey;
  }

  override sign(data: Uint8Array): Promise<Uint8Array> {
    // With a callback node:crypto signs on the thread pool, as WebCrypto does: the event loop goes on meanwhile.
    // Outside the request's AsyncLocalStorage context: on Node 24 a job started
    // inside it kept ~0.6 KB per token alive past the young generation
    // (docs/performance.md, "Client credentials (eighth round)"). The promise
    // still resumes each awaiting request in its own context.
    return new Promise((resolve, reject) => {
      engineContextStore().exit(() =>
        sign('sha256', data, this.#privateKey, (error, signature) => (error ? reject(error) : resolve(signature))),
      );
    });
  }
}
