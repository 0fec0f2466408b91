import { compactVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { generateRsaSigningKey } from '../../src/keys/signing-keys.js';
import { engineSigningKeys } from '../../src/oidc/engine-signing-keys.js';
import { engineContextStore } from '../../src/oidc/provider-internals.js';

const PRIVATE_PARAMETERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
const base64url = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

describe('the engine signing keys (node:crypto on the thread pool)', () => {
  it('sign RS256 JWS that verify against the public JWK the engine publishes, which holds no private part', async () => {
    const jwk = await generateRsaSigningKey(2048);
    const [key] = engineSigningKeys([jwk]);
    if (!key) throw new Error('no key');
    expect({ kid: key.kid, alg: key.alg, use: key.use, kty: key.kty, n: key.n, e: key.e }).toEqual({
      kid: jwk.kid,
      alg: 'RS256',
      use: 'sig',
      kty: 'RSA',
      n: jwk.n,
      e: jwk.e,
    });
    const published = (await key.keyObject()).export({ format: 'jwk' });
    for (const parameter of PRIVATE_PARAMETERS) expect(published).not.toHaveProperty(parameter);

    // The signing input as oidc-provider assembles it (RFC 7515 §7.1).
    const input = `${base64url(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid }))}.${base64url(JSON.stringify({ sub: 'x' }))}`;
    const signature = await key.sign(Buffer.from(input));
    const verified = await compactVerify(`${input}.${base64url(signature)}`, await importJWK({ ...published, alg: 'RS256' }));
    expect(new TextDecoder().decode(verified.payload)).toBe('{"sub":"x"}');

    const tampered = `${input.slice(0, -2)}AA.${base64url(signature)}`;
    await expect(compactVerify(tampered, await importJWK({ ...published, alg: 'RS256' }))).rejects.toThrow();
  });

  it("signs outside any request's context, and each request finds its own context again after its signature", async () => {
    const jwk = await generateRsaSigningKey(2048);
    const [key] = engineSigningKeys([jwk]);
    if (!key) throw new Error('no key');
    const store = engineContextStore();
    const seenAfter = await Promise.all(
      ['first request', 'second request', 'third request'].map((request) =>
        store.run(request, async () => {
          await key.sign(Buffer.from(request));
          return store.getStore();
        }),
      ),
    );
    expect(seenAfter).toEqual(['first request', 'second request', 'third request']);
  });

  it('refuses a key that is not an RS256 RSA key, naming it', async () => {
    const jwk = await generateRsaSigningKey(2048);
    expect(() => engineSigningKeys([{ ...jwk, alg: 'PS256' }])).toThrow(`signing key ${jwk.kid}: only RS256 RSA keys are supported`);
  });
});
