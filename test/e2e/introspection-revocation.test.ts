import { decodeJwt, generateKeyPair, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { deriveSecrets } from '../../src/config/master-secret.js';
import { loadSigningKeys } from '../../src/keys/signing-keys.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, TEST_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import { API, discover, registerSampleApp, signIn } from '../support/sample-app.js';
import { discoverAsService, postForm } from '../support/service-client.js';

const BILLING = 'https://billing.example.test/';
const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent', resource: API };

interface Introspection {
  active: boolean;
  [claim: string]: unknown;
}

/** RFC 7662 introspection and RFC 7009 revocation through real HTTP. */
describe('introspection and revocation', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let service: RegisteredClient;
  let itemsApi: RegisteredClient;
  let stranger: RegisteredClient;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let introspectionUrl: string;
  let revocationUrl: string;

  const basic = (client: RegisteredClient): [string, string] => [client.client_id, client.client_secret as string];
  const introspect = async (caller: RegisteredClient, token: string, hint?: string): Promise<Introspection> => {
    const response = await postForm(introspectionUrl, { token, ...(hint ? { token_type_hint: hint } : {}) }, basic(caller));
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toContain('no-store');
    return (await response.json()) as Introspection;
  };
  const serviceToken = async (resource = API) => {
    const response = await postForm(`${gatehouse.issuer}/token`, { grant_type: 'client_credentials', resource }, basic(service));
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  };

  /** A JWT signed with Gatehouse's own current key, for claims the server would never issue. */
  const signWithGatehouseKey = async (claims: Record<string, unknown>, header: Record<string, unknown> = {}) => {
    const { keys } = await loadSigningKeys(gatehouse.prisma, deriveSecrets(TEST_SECRET).keyEncryptionKey);
    const key = keys[0];
    if (!key) throw new Error('no signing key');
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: key.kid, ...header })
      .sign(await importJWK(key, 'RS256'));
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
    introspectionUrl = `${gatehouse.issuer}/token/introspection`;
    revocationUrl = `${gatehouse.issuer}/token/revocation`;
    sample = await registerSampleApp(gatehouse);
    await gatehouse.resources.createResource({ identifier: BILLING, name: 'Billing', scopes: ['billing:read'] });
    service = await gatehouse.clients.registerClient({
      grant_types: ['client_credentials'],
      api_access: [
        { resource: API, scopes: ['items:read'] },
        { resource: BILLING, scopes: ['billing:read'] },
      ],
      default_resource: API,
    });
    itemsApi = await gatehouse.clients.registerClient({
      client_name: 'Items API',
      grant_types: ['client_credentials'],
      introspection_resources: [API],
    });
    stranger = await gatehouse.clients.registerClient({
      grant_types: ['client_credentials'],
      api_access: [{ resource: BILLING, scopes: [] }],
      default_resource: BILLING,
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  describe('introspection (RFC 7662)', () => {
    it('describes a live client-credentials token to the API it is for', async () => {
      const token = await serviceToken();
      const answer = await introspect(itemsApi, token);
      expect(answer).toEqual({
        active: true,
        scope: 'items:read',
        client_id: service.client_id,
        sub: service.client_id,
        aud: API,
        exp: expect.any(Number),
        iat: expect.any(Number),
        iss: gatehouse.issuer,
        jti: expect.any(String),
        token_type: 'Bearer',
      });
      expect((answer.exp as number) - (answer.iat as number)).toBe(600);
    });

    it('describes a token to the client it was issued to, with openid-client', async () => {
      const token = await serviceToken();
      const config = await discoverAsService(gatehouse, service);
      const answer = await oidc.tokenIntrospection(config, token);
      expect(answer).toMatchObject({ active: true, client_id: service.client_id, aud: API });
    });

    it("answers active:false to a resource server that is not the token's audience", async () => {
      const billingToken = await serviceToken(BILLING);
      expect(await introspect(itemsApi, billingToken)).toEqual({ active: false });
      expect(await introspect(stranger, await serviceToken())).toEqual({ active: false });
    });

    it('answers active:false to a public client, even for its own tokens', async () => {
      const spa = await gatehouse.clients.registerClient({
        redirect_uris: ['http://127.0.0.1:8765/callback'],
        token_endpoint_auth_method: 'none',
      });
      const response = await postForm(introspectionUrl, { token: await serviceToken(), client_id: spa.client_id });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ active: false });
    });

    it('refuses a caller with a wrong secret: 401 invalid_client', async () => {
      const response = await postForm(introspectionUrl, { token: await serviceToken() }, [itemsApi.client_id, 'wrong']);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_client');
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
    });

    it('refuses a request without a token: invalid_request', async () => {
      const response = await postForm(introspectionUrl, {}, basic(itemsApi));
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
    });

    it('answers active:false for unknown, malformed, tampered, foreign, unsigned and expired tokens', async () => {
      const token = await serviceToken();
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'items:read items:admin' })).toString('base64url');
      const { privateKey: foreignKey } = await generateKeyPair('RS256');
      const now = Math.floor(Date.now() / 1000);
      const live = { iss: gatehouse.issuer, sub: service.client_id, client_id: service.client_id, aud: API, jti: 'x1', iat: now - 10 };

      const inactive = [
        'no-such-token',
        'a.b.c',
        `${header}.${payload}`,
        `${header}.${widened}.${signature}`,
        `${header}.${payload}.${signature.slice(0, -4)}AAAA`,
        await new SignJWT({ ...live, exp: now + 60 })
          .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: JSON.parse(Buffer.from(header, 'base64url').toString()).kid })
          .sign(foreignKey),
        new UnsecuredJWT({ ...live, exp: now + 60 }).encode(),
        await signWithGatehouseKey({ ...live, exp: now - 1 }),
        await signWithGatehouseKey({ ...live, exp: now + 60, iss: 'https://elsewhere.example' }),
        await signWithGatehouseKey({ ...live, exp: now + 60 }, { typ: 'JWT' }),
      ];
      for (const value of inactive) {
        expect(await introspect(itemsApi, value), value).toEqual({ active: false });
      }
      // The control: the same construction with live claims is active.
      expect(await introspect(itemsApi, await signWithGatehouseKey({ ...live, exp: now + 60 }))).toMatchObject({ active: true });
    });

    it("answers active:false once the token's client is deleted", async () => {
      const doomed = await gatehouse.clients.registerClient({
        grant_types: ['client_credentials'],
        api_access: [{ resource: API, scopes: [] }],
        default_resource: API,
      });
      const response = await postForm(`${gatehouse.issuer}/token`, { grant_type: 'client_credentials' }, basic(doomed));
      const { access_token: token } = (await response.json()) as { access_token: string };
      expect(await introspect(itemsApi, token)).toMatchObject({ active: true });
      await gatehouse.clients.deleteClient(doomed.client_id);
      await expect.poll(async () => (await introspect(itemsApi, token)).active, { timeout: 15_000, interval: 100 }).toBe(false);
    });

    it("describes a user's JWT access token, which names its grant, and refresh token", async () => {
      const config = await discover(gatehouse, sample.client);
      const { tokens } = await signIn(config, OFFLINE);
      expect(decodeJwt(tokens.access_token).grant_id).toEqual(expect.any(String));
      const answer = await introspect(itemsApi, tokens.access_token);
      expect(answer).toMatchObject({
        active: true,
        sub: sample.user.id,
        client_id: sample.client.client_id,
        aud: API,
        token_type: 'Bearer',
      });
      const refresh = await introspect(sample.client, tokens.refresh_token as string, 'refresh_token');
      expect(refresh).toMatchObject({ active: true, sub: sample.user.id, client_id: sample.client.client_id });
      expect(await introspect(itemsApi, tokens.refresh_token as string)).toEqual({ active: false });
    });

    it('describes an opaque access token to its own client only', async () => {
      const config = await discover(gatehouse, sample.client);
      const { tokens } = await signIn(config, { scope: 'openid email' });
      expect(tokens.access_token.split('.')).toHaveLength(1);
      expect(await introspect(sample.client, tokens.access_token)).toMatchObject({
        active: true,
        sub: sample.user.id,
        scope: 'openid email',
      });
      expect(await introspect(itemsApi, tokens.access_token)).toEqual({ active: false });
    });
  });

  describe('revocation (RFC 7009)', () => {
    it('revokes a client-credentials JWT: it then introspects as inactive', async () => {
      const token = await serviceToken();
      const config = await discoverAsService(gatehouse, service);
      await oidc.tokenRevocation(config, token);
      expect(await introspect(itemsApi, token)).toEqual({ active: false });
      expect(await introspect(service, token)).toEqual({ active: false });
    });

    it('answers 200 for unknown and malformed tokens', async () => {
      for (const token of ['no-such-token', 'a.b.c', 'x'.repeat(5000)]) {
        const response = await postForm(revocationUrl, { token }, basic(service));
        expect(response.status).toBe(200);
      }
    });

    it("refuses to let a client revoke another client's token, which stays active", async () => {
      const token = await serviceToken();
      const response = await postForm(revocationUrl, { token }, basic(itemsApi));
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
      expect(await introspect(itemsApi, token)).toMatchObject({ active: true });
    });

    it('refuses a caller with a wrong secret: 401 invalid_client', async () => {
      const response = await postForm(revocationUrl, { token: await serviceToken() }, [service.client_id, 'wrong']);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_client');
    });

    it('revoking a refresh token revokes its grant: the refresh token and the JWT access token die with it', async () => {
      const config = await discover(gatehouse, sample.client);
      const { tokens } = await signIn(config, OFFLINE);
      expect(await introspect(itemsApi, tokens.access_token)).toMatchObject({ active: true });

      await oidc.tokenRevocation(config, tokens.refresh_token as string, { token_type_hint: 'refresh_token' });

      expect(await introspect(sample.client, tokens.refresh_token as string)).toEqual({ active: false });
      expect(await introspect(itemsApi, tokens.access_token)).toEqual({ active: false });
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    it('replaying a refresh token revokes the grant: its JWT access tokens introspect as inactive', async () => {
      const config = await discover(gatehouse, sample.client);
      const { tokens } = await signIn(config, OFFLINE);
      const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token as string, { resource: API });
      expect(await introspect(itemsApi, rotated.access_token)).toMatchObject({ active: true });
      await oidc.refreshTokenGrant(config, rotated.refresh_token as string, { resource: API }); // the successor used: no retry grace left
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
      expect(await introspect(itemsApi, rotated.access_token)).toEqual({ active: false });
      expect(await introspect(itemsApi, tokens.access_token)).toEqual({ active: false });
    });

    it("revoking a user's JWT access token leaves the refresh token working", async () => {
      const config = await discover(gatehouse, sample.client);
      const { tokens } = await signIn(config, OFFLINE);
      await oidc.tokenRevocation(config, tokens.access_token);
      expect(await introspect(itemsApi, tokens.access_token)).toEqual({ active: false });
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string, { resource: API });
      expect(await introspect(itemsApi, refreshed.access_token)).toMatchObject({ active: true });
    });
  });
});
