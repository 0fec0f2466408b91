import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { discoverAsService, postForm, verifyAsResourceServer } from '../support/service-client.js';

const ITEMS = 'https://items.example.test/';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** RFC 7523 §2.2 client authentication with the client's own keys. */
describe('private_key_jwt client authentication', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let privateKey: CryptoKey;
  let publicJwk: JWK;
  let client: RegisteredClient;
  let tokenUrl: string;

  /** A client assertion (RFC 7523 §3); `claims` and `header` override the valid defaults. */
  const assertion = (
    claims: Record<string, unknown> = {},
    options: { key?: CryptoKey | Uint8Array; header?: Record<string, unknown> } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: client.client_id,
      sub: client.client_id,
      aud: tokenUrl,
      jti: randomUUID(),
      iat: now,
      exp: now + 60,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: publicJwk.kid, ...options.header })
      .sign(options.key ?? privateKey);
  };
  const tokenRequest = (clientAssertion: string, extra: Record<string, string> = {}) =>
    postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: clientAssertion,
      ...extra,
    });
  const expectInvalidClient = async (response: Response) => {
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_client');
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
    tokenUrl = `${gatehouse.issuer}/token`;
    await gatehouse.resources.createResource({ identifier: ITEMS, name: 'Items', scopes: ['items:read'] });
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'service-key-1', alg: 'RS256', use: 'sig' };
    client = await gatehouse.clients.registerClient({
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [publicJwk as { kty: 'RSA' }] },
      api_access: [{ resource: ITEMS, scopes: ['items:read'] }],
      default_resource: ITEMS,
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('issues a token to a client that signs its assertion with its registered key, through openid-client', async () => {
    const config = await discoverAsService(gatehouse, client, oidc.PrivateKeyJwt(privateKey));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'items:read' });
    const { payload } = await verifyAsResourceServer(gatehouse, tokens.access_token, ITEMS);
    expect(payload).toMatchObject({ client_id: client.client_id, sub: client.client_id, scope: 'items:read' });
  });

  it('accepts the issuer as audience too (RFC 7523 §3 item 3)', async () => {
    const response = await tokenRequest(await assertion({ aud: gatehouse.issuer }));
    expect(response.status).toBe(200);
  });

  it('accepts an assertion once: a replayed jti is invalid_client', async () => {
    const once = await assertion();
    expect((await tokenRequest(once)).status).toBe(200);
    await expectInvalidClient(await tokenRequest(once));
  });

  it('accepts an assertion once even when it is replayed concurrently', async () => {
    const once = await assertion();
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const response = await tokenRequest(once);
        await response.body?.cancel();
        return response.status;
      }),
    );
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 401)).toHaveLength(5);
  });

  it('refuses an expired assertion', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectInvalidClient(await tokenRequest(await assertion({ iat: now - 600, exp: now - 300 })));
  });

  it.each([
    ['another audience', { aud: 'https://elsewhere.example/token' }],
    ['no jti', { jti: undefined }],
    ['no exp', { exp: undefined }],
    ['an iss that is not the client', { iss: 'someone-else' }],
  ])('refuses an assertion with %s', async (_case, claims) => {
    await expectInvalidClient(await tokenRequest(await assertion(claims)));
  });

  it('refuses an assertion signed with another key', async () => {
    const { privateKey: otherKey } = await generateKeyPair('RS256');
    await expectInvalidClient(await tokenRequest(await assertion({}, { key: otherKey })));
  });

  it('refuses alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = new UnsecuredJWT({
      iss: client.client_id,
      sub: client.client_id,
      aud: tokenUrl,
      jti: randomUUID(),
      exp: now + 60,
    }).encode();
    await expectInvalidClient(await tokenRequest(unsigned));
  });

  it('refuses HS256, even keyed with the public key material', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    await expectInvalidClient(await tokenRequest(await assertion({}, { key: secret, header: { alg: 'HS256' } })));
  });

  it('refuses a secret from a private_key_jwt client', async () => {
    const response = await postForm(tokenUrl, { grant_type: 'client_credentials' }, [client.client_id, 'some-secret']);
    await expectInvalidClient(response);
  });

  it('answers garbage assertions with a 4xx, never a 5xx', async () => {
    for (const garbage of ['', 'x', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOjF9.x', `${'a'.repeat(10_000)}.b.c`]) {
      const response = await tokenRequest(garbage);
      expect(response.status, garbage.slice(0, 30)).toBeGreaterThanOrEqual(400);
      expect(response.status, garbage.slice(0, 30)).toBeLessThan(500);
      await response.body?.cancel();
    }
    const wrongType = await postForm(tokenUrl, {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:other',
      client_assertion: await assertion(),
    });
    expect(wrongType.status).toBe(400);
  });
});
