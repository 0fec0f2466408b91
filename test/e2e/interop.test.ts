import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { API, REDIRECT_URI, signIn, startWithSampleApp, stopAndDrop, type registerSampleApp } from '../support/sample-app.js';
import { postForm } from '../support/service-client.js';

const SPA_ORIGIN = 'http://127.0.0.1:8765';

/** What client libraries written by others tripped over (issue 13, "Interop fixes"). */
describe('interop with client libraries', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let config: oidc.Configuration;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let postClient: RegisteredClient;
  const notices: string[] = [];

  beforeAll(async () => {
    vi.spyOn(console, 'info').mockImplementation((...args: unknown[]) => void notices.push(args.map(String).join(' ')));
    ({ gatehouse, databaseUrl, config, sample } = await startWithSampleApp());
    postClient = await gatehouse.clients.registerClient({
      client_name: 'Post App',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials'],
      default_resource: API,
      api_access: [{ resource: API, scopes: ['items:read'] }],
    });
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await stopAndDrop(gatehouse, databaseUrl);
  });

  const basic = (client: RegisteredClient): [string, string] => [client.client_id, client.client_secret as string];

  describe('revocation (RFC 7009 §2.2)', () => {
    it('answers 200 with no body and no content type for refresh tokens and JWT access tokens alike', async () => {
      const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent', resource: API });
      for (const token of [tokens.refresh_token as string, tokens.access_token, 'not-a-token']) {
        const response = await postForm(`${gatehouse.issuer}/token/revocation`, { token }, basic(sample.client));
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBeNull();
        expect(await response.text()).toBe('');
      }
    });

    it('openid-client revokes without complaint', async () => {
      const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent' });
      await expect(oidc.tokenRevocation(config, tokens.refresh_token as string)).resolves.toBeUndefined();
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    });
  });

  describe('client authentication method', () => {
    it('refuses a client_secret_basic client that sends its secret in the body', async () => {
      const response = await postForm(`${gatehouse.issuer}/token/introspection`, {
        token: 'x',
        client_id: sample.client.client_id,
        client_secret: sample.client.client_secret as string,
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'invalid_client' });
    });

    it('refuses a client_secret_post client that sends its secret in the Authorization header, at token, introspection and revocation', async () => {
      for (const [path, fields] of [
        ['/token', { grant_type: 'client_credentials' }],
        ['/token/introspection', { token: 'x' }],
        ['/token/revocation', { token: 'x' }],
      ] as const) {
        const response = await postForm(`${gatehouse.issuer}${path}`, fields, basic(postClient));
        expect(response.status, path).toBe(401);
        expect(await response.json()).toMatchObject({ error: 'invalid_client' });
      }
      const accepted = await postForm(`${gatehouse.issuer}/token`, {
        grant_type: 'client_credentials',
        client_id: postClient.client_id,
        client_secret: postClient.client_secret as string,
      });
      expect(accepted.status).toBe(200);
    });
  });

  describe('discovery', () => {
    it('names the auth methods of revocation and introspection, and both documents agree', async () => {
      const openid = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      const oauth = (await (await fetch(`${gatehouse.issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(openid).toEqual(oauth);
      expect(openid.revocation_endpoint_auth_methods_supported).toEqual([
        'none',
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ]);
      expect(openid.introspection_endpoint_auth_methods_supported).toEqual([
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ]);
    });

    it('lists in claims_supported only claims that ID tokens and userinfo carry', async () => {
      const { claims_supported: supported } = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as {
        claims_supported: string[];
      };
      const { tokens } = await signIn(config, { scope: 'openid email profile roles' });
      const idToken = tokens.claims() as Record<string, unknown>;
      const userinfo = (await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub as string)) as Record<string, unknown>;
      const issued = new Set([...Object.keys(idToken), ...Object.keys(userinfo)]);
      expect(issued.has('auth_time')).toBe(true);
      for (const claim of supported) expect(issued.has(claim) || claim === 'sid', claim).toBe(true);
    });
  });

  describe('authorization and end-session endpoints', () => {
    const pkce = async () => {
      const verifier = oidc.randomPKCECodeVerifier();
      return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
    };

    it('accepts the authorization request as a POSTed form (OIDC Core §3.1.2.1)', async () => {
      const browser = new Browser();
      const { verifier, challenge } = await pkce();
      const body = new URLSearchParams({
        client_id: sample.client.client_id,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: REDIRECT_URI,
        state: 's1',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      let page = await browser.open(`${gatehouse.issuer}/auth`, {
        stopAt: REDIRECT_URI,
        init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
      });
      page = await browser.submit(
        page,
        '/login',
        { email: 'ada@example.test', password: 'correct horse battery staple' },
        { stopAt: REDIRECT_URI },
      );
      if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
      const callback = new URL(page.url);
      expect(callback.searchParams.get('state')).toBe('s1');
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's1' });
      expect(tokens.access_token).toBeTruthy();
    });

    it('accepts the logout request as a POSTed form', async () => {
      const { tokens, browser } = await signIn(config);
      const body = new URLSearchParams({
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: 'http://127.0.0.1:8765/signed-out',
      });
      const page = await browser.open(`${gatehouse.issuer}/session/end`, {
        init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body },
      });
      expect(page.status).toBe(200);
      expect(page.html).toContain('Sign out');
      const done = await browser.submit(page, '/session/end/confirm', { logout: 'yes' }, { stopAt: 'http://127.0.0.1:8765/signed-out' });
      expect(done.url).toBe('http://127.0.0.1:8765/signed-out');
    });

    it('answers bad POSTs with a 4xx, never a 5xx', async () => {
      const post = (body: string, contentType: string) =>
        fetch(`${gatehouse.issuer}/auth`, { method: 'POST', headers: { 'content-type': contentType }, body, redirect: 'manual' });
      const tooLarge = await post(`client_id=${'x'.repeat(70 * 1024)}`, 'application/x-www-form-urlencoded');
      expect(tooLarge.status).toBe(413);
      const json = await post('{"client_id":"x"}', 'application/json');
      expect(json.status).toBeGreaterThanOrEqual(400);
      expect(json.status).toBeLessThan(500);
      const garbage = await post('%%%&&&===\u0000', 'application/x-www-form-urlencoded');
      expect(garbage.status).toBeGreaterThanOrEqual(400);
      expect(garbage.status).toBeLessThan(500);
    });

    it('requires redirect_uri even when the client registered only one', async () => {
      const { challenge } = await pkce();
      const url = new URL(`${gatehouse.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: sample.client.client_id,
        response_type: 'code',
        scope: 'openid',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }).toString();
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('redirect_uri');
    });
  });

  describe('CORS and start-up notices', () => {
    it('lets a public client call the token endpoint from its redirect-URI origin only', async () => {
      const spa = await gatehouse.clients.registerClient({
        client_name: 'SPA',
        redirect_uris: [`${SPA_ORIGIN}/spa`],
        token_endpoint_auth_method: 'none',
      });
      const preflight = (origin: string) =>
        fetch(`${gatehouse.issuer}/token`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      expect((await preflight(SPA_ORIGIN)).headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
      const request = (origin: string, client: string) =>
        postFormWithOrigin(`${gatehouse.issuer}/token`, origin, { grant_type: 'refresh_token', refresh_token: 'x', client_id: client });
      expect((await request(SPA_ORIGIN, spa.client_id)).headers.get('access-control-allow-origin')).toBe(SPA_ORIGIN);
      expect((await request('https://evil.example', spa.client_id)).headers.get('access-control-allow-origin')).toBeNull();
    });

    it('prints no oidc-provider notice about defaulted CORS or revocation policies', () => {
      expect(notices.filter((line) => line.includes('oidc-provider NOTICE: default'))).toEqual([]);
    });
  });
});

function postFormWithOrigin(url: string, origin: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });
}
