import { decodeProtectedHeader } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { REDIRECT_URI } from '../support/sample-app.js';
import { discoverAsService, postForm, verifyAsResourceServer } from '../support/service-client.js';

const ITEMS = 'https://items.example.test/';
const BILLING = 'https://billing.example.test/';
const SLOW = 'https://slow.example.test/';

/** RFC 6749 §4.4 with RFC 8707 resource indicators, through real HTTP. */
describe('client credentials', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let service: RegisteredClient;
  let tokenUrl: string;

  const register = (metadata: Parameters<TestGatehouse['clients']['registerClient']>[0]) => gatehouse.clients.registerClient(metadata);
  const basic = (client: RegisteredClient): [string, string] => [client.client_id, client.client_secret as string];

  /** An error answer: its status, JSON body and WWW-Authenticate header. */
  const errorOf = async (response: Response) => ({
    status: response.status,
    body: (await response.json()) as { error: string; error_description?: string },
    challenge: response.headers.get('www-authenticate'),
  });

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
    tokenUrl = `${gatehouse.issuer}/token`;
    await gatehouse.resources.createResource({
      identifier: ITEMS,
      name: 'Items',
      scopes: ['items:read', 'items:write', 'items:admin'],
      access_token_ttl: 300,
    });
    await gatehouse.resources.createResource({ identifier: BILLING, name: 'Billing', scopes: ['billing:read'] });
    await gatehouse.resources.createResource({ identifier: SLOW, name: 'Long-lived', scopes: [], access_token_ttl: 7200 });
    service = await register({
      client_name: 'Reports service',
      grant_types: ['client_credentials'],
      api_access: [
        { resource: ITEMS, scopes: ['items:read', 'items:write'] },
        { resource: BILLING, scopes: ['billing:read'] },
        { resource: SLOW, scopes: [] },
      ],
      default_resource: ITEMS,
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  describe('issues RFC 9068 JWT access tokens', () => {
    it('for the named API and scopes, verifiable against the JWKS as a resource server would', async () => {
      const config = await discoverAsService(gatehouse, service);
      const tokens = await oidc.clientCredentialsGrant(config, { resource: ITEMS, scope: 'items:read' });
      expect(tokens.token_type).toBe('bearer');
      expect(tokens.scope).toBe('items:read');
      expect(tokens.expires_in).toBe(300);
      expect(tokens).not.toHaveProperty('refresh_token');

      const { payload, protectedHeader } = await verifyAsResourceServer(gatehouse, tokens.access_token, ITEMS);
      expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
      expect(payload).toMatchObject({
        iss: gatehouse.issuer,
        sub: service.client_id,
        aud: ITEMS,
        client_id: service.client_id,
        scope: 'items:read',
        jti: expect.any(String),
      });
      expect((payload.exp as number) - (payload.iat as number)).toBe(300);
      expect(payload).not.toHaveProperty('grant_id');
    });

    it('for the default resource, with every scope the client may have there, when the request names neither', async () => {
      const response = await postForm(tokenUrl, { grant_type: 'client_credentials' }, basic(service));
      expect(response.status).toBe(200);
      const body = (await response.json()) as { access_token: string; scope: string };
      expect(body.scope).toBe('items:read items:write');
      const { payload } = await verifyAsResourceServer(gatehouse, body.access_token, ITEMS);
      expect(payload.scope).toBe('items:read items:write');
    });

    it("for another API the client may use, with that API's scopes only", async () => {
      const config = await discoverAsService(gatehouse, service);
      const tokens = await oidc.clientCredentialsGrant(config, { resource: BILLING, scope: 'billing:read' });
      const { payload } = await verifyAsResourceServer(gatehouse, tokens.access_token, BILLING);
      expect(payload.scope).toBe('billing:read');
      await expect(verifyAsResourceServer(gatehouse, tokens.access_token, ITEMS)).rejects.toThrow(/aud/);
    });

    it('with client_secret_post too', async () => {
      const poster = await register({
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_post',
        api_access: [{ resource: ITEMS, scopes: ['items:read'] }],
        default_resource: ITEMS,
      });
      const response = await postForm(tokenUrl, {
        grant_type: 'client_credentials',
        client_id: poster.client_id,
        client_secret: poster.client_secret as string,
      });
      expect(response.status).toBe(200);
      const config = await discoverAsService(gatehouse, poster);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'items:read' });
      expect(tokens.scope).toBe('items:read');
    });

    it('audience-only, without scope, for a client granted the API without scopes', async () => {
      const bare = await register({
        grant_types: ['client_credentials'],
        api_access: [{ resource: ITEMS, scopes: [] }],
        default_resource: ITEMS,
      });
      const response = await postForm(tokenUrl, { grant_type: 'client_credentials' }, basic(bare));
      expect(response.status).toBe(200);
      const body = (await response.json()) as { access_token: string; scope?: string };
      expect(body.scope).toBeUndefined();
      const { payload } = await verifyAsResourceServer(gatehouse, body.access_token, ITEMS);
      expect(payload).not.toHaveProperty('scope');
    });

    it('never longer than GATEHOUSE_MAX_ACCESS_TOKEN_TTL (1 hour by default), whatever the API asks', async () => {
      const response = await postForm(tokenUrl, { grant_type: 'client_credentials', resource: SLOW }, basic(service));
      const body = (await response.json()) as { access_token: string; expires_in: number };
      expect(body.expires_in).toBe(3600);
      const { payload } = await verifyAsResourceServer(gatehouse, body.access_token, SLOW);
      expect((payload.exp as number) - (payload.iat as number)).toBe(3600);
    });

    it('signed with the key the JWKS publishes under its kid', async () => {
      const response = await postForm(tokenUrl, { grant_type: 'client_credentials' }, basic(service));
      const { access_token: token } = (await response.json()) as { access_token: string };
      const jwks = (await (await fetch(`${gatehouse.issuer}/jwks`)).json()) as { keys: { kid: string; d?: string }[] };
      expect(jwks.keys.map((key) => key.kid)).toContain(decodeProtectedHeader(token).kid);
      expect(jwks.keys.every((key) => key.d === undefined)).toBe(true);
    });
  });

  describe('refuses, with the RFC 6749 §5.2 error codes', () => {
    it('a wrong secret: 401 invalid_client with a Basic challenge', async () => {
      const answer = await errorOf(await postForm(tokenUrl, { grant_type: 'client_credentials' }, [service.client_id, 'not-the-secret']));
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_client');
      expect(answer.challenge).toMatch(/^Basic realm="/);
    });

    it('an unknown client: 401 invalid_client with a Basic challenge', async () => {
      const answer = await errorOf(await postForm(tokenUrl, { grant_type: 'client_credentials' }, ['no-such-client', 'whatever']));
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_client');
      expect(answer.challenge).toMatch(/^Basic /);
    });

    it('a wrong secret sent in the body: 401 invalid_client', async () => {
      const answer = await errorOf(
        await postForm(tokenUrl, { grant_type: 'client_credentials', client_id: service.client_id, client_secret: 'wrong' }),
      );
      expect(answer.status).toBe(401);
      expect(answer.body.error).toBe('invalid_client');
    });

    it.each([
      ['a scope the client may not have', ITEMS, 'items:read items:admin'],
      ['a scope the API does not define', ITEMS, 'billing:read'],
      ['an OpenID scope', ITEMS, 'openid'],
      ['a scope nobody defines', ITEMS, 'everything'],
    ])('%s: invalid_scope, not a silent drop', async (_case, resource, scope) => {
      const answer = await errorOf(await postForm(tokenUrl, { grant_type: 'client_credentials', resource, scope }, basic(service)));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_scope');
    });

    it.each([
      ['an unknown API', { resource: 'https://unknown.example.test/' }],
      ['a relative resource', { resource: '/items' }],
      ['a resource with a fragment', { resource: `${ITEMS}#x` }],
      ['two resources at once', { resource: [ITEMS, BILLING] }],
    ])('%s: invalid_target', async (_case, fields) => {
      const answer = await errorOf(await postForm(tokenUrl, { grant_type: 'client_credentials', ...fields }, basic(service)));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_target');
    });

    it('no resource from a client without a default_resource: invalid_target', async () => {
      const noDefault = await register({ grant_types: ['client_credentials'], api_access: [{ resource: ITEMS, scopes: ['items:read'] }] });
      const answer = await errorOf(await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'items:read' }, basic(noDefault)));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_target');
    });

    it('client_credentials from a client not registered for it: unauthorized_client', async () => {
      const webApp = await register({ redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'] });
      const answer = await errorOf(await postForm(tokenUrl, { grant_type: 'client_credentials', resource: ITEMS }, basic(webApp)));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('unauthorized_client');
    });

    it('another grant from a client_credentials-only client: unauthorized_client', async () => {
      const requests: Record<string, string>[] = [
        { grant_type: 'authorization_code', code: 'abc', redirect_uri: REDIRECT_URI },
        { grant_type: 'refresh_token', refresh_token: 'abc' },
      ];
      for (const fields of requests) {
        const answer = await errorOf(await postForm(tokenUrl, fields, basic(service)));
        expect(answer.status).toBe(400);
        expect(answer.body.error).toBe('unauthorized_client');
      }
    });

    it('a grant type the server does not know: unsupported_grant_type', async () => {
      const answer = await errorOf(await postForm(tokenUrl, { grant_type: 'password', username: 'a', password: 'b' }, basic(service)));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('unsupported_grant_type');
    });

    it.each([
      ['no grant_type', {}],
      ['grant_type twice', { grant_type: ['client_credentials', 'client_credentials'] }],
      ['scope twice', { grant_type: 'client_credentials', scope: ['items:read', 'items:write'] }],
    ])('a malformed request (%s): invalid_request', async (_case, fields) => {
      const answer = await errorOf(await postForm(tokenUrl, fields, basic(service)));
      expect(answer.status).toBe(400);
      expect(answer.body.error).toBe('invalid_request');
    });

    it('a malformed Authorization header: invalid_request', async () => {
      for (const authorization of ['Basic !!!', 'Basic bm8tY29sb24=', 'Bearer abc', 'Basic']) {
        const response = await fetch(tokenUrl, {
          method: 'POST',
          headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials',
        });
        const answer = await errorOf(response);
        expect(answer.status).toBe(400);
        expect(answer.body.error).toBe('invalid_request');
      }
    });

    it('garbage bodies with a 4xx JSON error, never a 5xx', async () => {
      const authorization = `Basic ${Buffer.from(`${service.client_id}:${service.client_secret}`).toString('base64')}`;
      const bodies: [string, BodyInit][] = [
        ['application/json', JSON.stringify({ grant_type: 'client_credentials' })],
        ['application/x-www-form-urlencoded', ''],
        ['application/x-www-form-urlencoded', '%%%&&&=='],
        ['application/x-www-form-urlencoded', `grant_type=client_credentials&scope=${'a'.repeat(70_000)}`],
        ['application/x-www-form-urlencoded', 'grant_type=client_credentials&scope=items%3Aread%00'],
        ['application/x-www-form-urlencoded', 'grant_type=client_credentials&resource=%E0%A4%A'],
        ['text/plain', 'grant_type=client_credentials'],
        ['application/octet-stream', new Uint8Array([0, 255, 1, 254])],
      ];
      for (const [contentType, body] of bodies) {
        const response = await fetch(tokenUrl, { method: 'POST', headers: { authorization, 'content-type': contentType }, body });
        expect(response.status, `${contentType} ${String(body).slice(0, 40)}`).toBeGreaterThanOrEqual(400);
        expect(response.status, `${contentType} ${String(body).slice(0, 40)}`).toBeLessThan(500);
        expect(response.headers.get('content-type')).toContain('application/json');
        expect(((await response.json()) as { error: string }).error).toEqual(expect.any(String));
      }
    });
  });
});
