import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, findForm } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import {
  authorizationRequestWithPkce,
  discover,
  startWithSampleApp,
  stopAndDrop,
  PASSWORD,
  REDIRECT_URI,
  type registerSampleApp,
  signIn,
} from '../support/sample-app.js';

describe('bad input', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;

  const authorizeUrl = (parameters: Record<string, string>) => {
    const url = new URL(`${gatehouse.issuer}/auth`);
    const defaults = {
      client_id: sample.client.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
      state: 'xyz',
    };
    for (const [name, value] of Object.entries({ ...defaults, ...parameters })) {
      if (value !== '') url.searchParams.set(name, value);
    }
    return url.toString();
  };

  /** The login page of a fresh authorization request. */
  const loginPage = async () => {
    const browser = new Browser();
    const page = await browser.open(authorizeUrl({}));
    expect(page.html).toContain('name="password"');
    return { browser, page };
  };

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, sample, config } = await startWithSampleApp());
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  describe('authorization endpoint', () => {
    it('shows an error page, and never redirects, for an unregistered redirect_uri', async () => {
      for (const redirectUri of [
        'https://evil.example/callback',
        `${REDIRECT_URI}/extra`,
        `${REDIRECT_URI}?x=1`,
        'http://127.0.0.1:8765/CALLBACK',
      ]) {
        const response = await fetch(authorizeUrl({ redirect_uri: redirectUri }), { redirect: 'manual' });
        expect(response.status).toBe(400);
        expect(response.headers.get('location')).toBeNull();
        expect(response.headers.get('content-type')).toContain('text/html');
        const html = await response.text();
        expect(html).toContain('redirect_uri did not match any of the client');
        expect(html).not.toContain('evil.example');
      }
    });

    it('shows an error page for an unknown client', async () => {
      const response = await fetch(authorizeUrl({ client_id: 'no-such-client' }), { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(await response.text()).toContain('invalid_client');
    });

    it('refuses a request without PKCE, even from a confidential client', async () => {
      const response = await fetch(authorizeUrl({ code_challenge: '', code_challenge_method: '' }), { redirect: 'manual' });
      expect(response.status).toBe(303);
      const location = new URL(response.headers.get('location') as string);
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toMatch(/PKCE/i);
      expect(location.searchParams.get('state')).toBe('xyz');
      expect(location.searchParams.get('code')).toBeNull();
    });

    it('refuses code_challenge_method=plain', async () => {
      const response = await fetch(authorizeUrl({ code_challenge_method: 'plain' }), { redirect: 'manual' });
      const location = new URL(response.headers.get('location') as string);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toMatch(/code_challenge_method/);
      expect(location.searchParams.get('code')).toBeNull();
    });

    it('refuses an implicit-flow response_type', async () => {
      const response = await fetch(authorizeUrl({ response_type: 'id_token token' }), { redirect: 'manual' });
      const location = new URL((response.headers.get('location') as string).replace('#', '?'));
      expect(location.searchParams.get('error')).toBe('unsupported_response_type');
    });
  });

  describe('login page', () => {
    it('answers a wrong password, an unknown email and a disabled user the same way', async () => {
      const disabled = await gatehouse.users.createUser({ email: 'disabled@example.test', password: PASSWORD, disabled: true });
      expect(disabled.disabled).toBe(true);
      const attempts = [
        { email: 'ada@example.test', password: 'wrong password entirely' },
        { email: 'nobody@example.test', password: PASSWORD },
        { email: 'disabled@example.test', password: PASSWORD },
      ];
      const answers = [];
      for (const attempt of attempts) {
        const { browser, page } = await loginPage();
        const answer = await browser.submit(page, '/login', attempt);
        const uid = /\/interaction\/([^/]+)\/login/.exec(answer.html)?.[1] as string;
        const csrf = findForm(answer, '/login').fields.csrf as string;
        answers.push({
          status: answer.status,
          html: answer.html.replaceAll(uid, 'UID').replaceAll(csrf, 'CSRF').replace(attempt.email, 'EMAIL'),
        });
      }
      expect(answers[0]?.status).toBe(401);
      expect(answers[0]?.html).toContain('Incorrect email or password.');
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
    });

    it('accepts the email in any letter case', async () => {
      const { tokens } = await signIn(config, { email: 'ADA@Example.TEST' });
      expect(tokens.id_token).toBeDefined();
    });

    it('rejects a form post without the CSRF token', async () => {
      const { browser, page } = await loginPage();
      const answer = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD, csrf: 'forged' });
      expect(answer.status).toBe(403);
      expect(answer.html).not.toContain('name="password"');
    });

    it('shows an error page, not a 500, for an unknown or expired interaction', async () => {
      const expired = await new Browser().open(`${gatehouse.issuer}/interaction/does-not-exist`);
      expect(expired.status).toBe(400);
      expect(expired.html).toContain('This sign-in request has expired or was already completed.');
      const { browser } = await loginPage();
      const mismatched = await browser.open(`${gatehouse.issuer}/interaction/does-not-exist`);
      expect(mismatched.status).toBe(400);
      expect(mismatched.html).toContain('does not match the one in progress');
      const post = await new Browser().fetch(`${gatehouse.issuer}/interaction/does-not-exist/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'email=a&password=b',
      });
      expect(post.status).toBe(400);
    });

    it('sends security headers with the pages', async () => {
      const { page } = await loginPage();
      expect(page.headers.get('x-frame-options')).toBe('DENY');
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(page.headers.get('x-content-type-options')).toBe('nosniff');
      expect(page.headers.get('cache-control')).toBe('no-store');
    });

    it('escapes what it echoes back', async () => {
      const { browser, page } = await loginPage();
      const answer = await browser.submit(page, '/login', { email: '"><script>alert(1)</script>', password: 'x' });
      expect(answer.html).not.toContain('<script>alert(1)</script>');
      expect(answer.html).toContain('&lt;script&gt;');
    });

    it('sends the user back to the app with access_denied on cancel', async () => {
      const { browser, page } = await loginPage();
      const answer = await browser.submit(page, '/abort', {}, { stopAt: REDIRECT_URI });
      const location = new URL(answer.url);
      expect(location.searchParams.get('error')).toBe('access_denied');
      expect(location.searchParams.get('state')).toBe('xyz');
    });
  });

  describe('token endpoint', () => {
    it('answers a replayed code with invalid_grant and revokes what the first exchange issued', async () => {
      const { url, codeVerifier } = await authorizationRequestWithPkce(config, { scope: 'openid offline_access', prompt: 'consent' });
      const browser = new Browser();
      let page = await browser.open(url);
      page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD });
      page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
      const callback = new URL(page.url);
      const first = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier, idTokenExpected: true });
      expect(first.refresh_token).toEqual(expect.any(String));

      await expect(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier })).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      await expect(oidc.fetchUserInfo(config, first.access_token, sample.user.id)).rejects.toMatchObject({ status: 401 });
      await expect(oidc.refreshTokenGrant(config, first.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    it('refuses a code with the wrong code_verifier', async () => {
      const browser = new Browser();
      const { url } = await authorizationRequestWithPkce(config, { scope: 'openid' });
      let page = await browser.open(url);
      page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
      if (!page.url.startsWith(REDIRECT_URI)) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
      await expect(
        oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: oidc.randomPKCECodeVerifier() }),
      ).rejects.toMatchObject({ error: 'invalid_grant' });
    });

    const tokenRequest = (body: BodyInit | null, headers: Record<string, string> = {}) => {
      const basic = Buffer.from(`${sample.client.client_id}:${sample.client.client_secret}`).toString('base64');
      return fetch(`${gatehouse.issuer}/token`, { method: 'POST', headers: { authorization: `Basic ${basic}`, ...headers }, body });
    };

    it('answers garbage bodies with a 4xx JSON error, never a 5xx', async () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const cases: [BodyInit | null, Record<string, string>][] = [
        [null, {}],
        ['', form],
        ['{"grant_type":"authorization_code"}', { 'content-type': 'application/json' }],
        ['grant_type=authorization_code', form],
        ['grant_type=authorization_code&code=garbage&redirect_uri=x&code_verifier=y', form],
        ['grant_type=refresh_token&refresh_token=garbage', form],
        ['grant_type=password&username=a&password=b', form],
        ['grant_type=no_such_grant', form],
        ['grant_type=authorization_code&grant_type=refresh_token', form],
        ['%%%=%%%&\u0000\u0001', form],
        [Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x3d]), form],
        ['grant_type=refresh_token&refresh_token=' + 'a'.repeat(100_000), form],
      ];
      for (const [body, headers] of cases) {
        const response = await tokenRequest(body, headers);
        expect(response.status, String(body).slice(0, 60)).toBeGreaterThanOrEqual(400);
        expect(response.status, String(body).slice(0, 60)).toBeLessThan(500);
        expect(response.headers.get('content-type')).toContain('application/json');
        const json = (await response.json()) as { error: string };
        expect(json.error).toMatch(/^(invalid_request|invalid_grant|unsupported_grant_type|unauthorized_client)$/);
      }
    });

    it('answers a wrong client secret with 401 invalid_client', async () => {
      const basic = Buffer.from(`${sample.client.client_id}:wrong-secret`).toString('base64');
      const response = await fetch(`${gatehouse.issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=refresh_token&refresh_token=x',
      });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'invalid_client' });
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic/);
    });
  });

  describe('device verification page', () => {
    it('answers a code form posted without a session with the form-expired page, not a 500', async () => {
      for (const body of ['user_code=WDJB-MJHT', '', 'xsrf=x&user_code=BCDF-GHJK&confirm=yes']) {
        const response = await fetch(`${gatehouse.issuer}/device`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
        expect(response.status).toBe(403);
        expect(await response.text()).toContain('The form expired');
      }
      const json = await fetch(`${gatehouse.issuer}/device`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(json.status).toBe(403);
    });
  });

  describe('public clients', () => {
    it('sign in with PKCE and no secret', async () => {
      const publicClient = await gatehouse.clients.registerClient({
        client_name: 'Mobile App',
        application_type: 'native',
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
      });
      expect(publicClient.client_secret).toBeUndefined();
      const { tokens } = await signIn(await discover(gatehouse, publicClient));
      expect(tokens.id_token).toBeDefined();
    });
  });
});
