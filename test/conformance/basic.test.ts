import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import { authorize, claimsOf, codeRequest, exchangeCode, postAs, signInForTokens } from '../support/conformance.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

/**
 * The OpenID conformance suite's OP Basic plan (oidcc-basic-certification-test-plan),
 * one test per module that can run over local HTTP (CONFORMANCE.md §1.1).
 * Modules marked [UI] there are checked for "no error" only.
 */
describe('OIDC Basic OP plan', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let c1: RegisteredClient;
  let c2: RegisteredClient;
  let postClient: RegisteredClient;
  let userSub: string;

  beforeAll(async () => {
    const started = await startWithSampleApp();
    ({ gatehouse, databaseUrl } = started);
    c1 = started.sample.client;
    userSub = started.sample.user.id;
    c2 = await gatehouse.clients.registerClient({
      client_name: 'Second',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    postClient = await gatehouse.clients.registerClient({
      client_name: 'Post',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_post',
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  const jwks = () => createRemoteJWKSet(new URL(`${gatehouse.issuer}/jwks`));
  const verifyIdToken = (idToken: string, client: RegisteredClient) =>
    jwtVerify(idToken, jwks(), { issuer: gatehouse.issuer, audience: client.client_id, algorithms: ['RS256'] });
  const userinfo = (accessToken: string, init: RequestInit = {}) =>
    fetch(`${gatehouse.issuer}/me`, {
      ...init,
      headers: { authorization: `Bearer ${accessToken}`, ...(init.headers as Record<string, string>) },
    });

  it('oidcc-server', async () => {
    const { parameters, verifier } = await codeRequest(c1);
    const { callback } = await authorize(gatehouse, parameters);
    expect(callback?.searchParams.get('state')).toBe(parameters.state);
    expect(callback?.searchParams.get('iss')).toBe(gatehouse.issuer); // RFC 9207
    const tokens = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toContain('no-store');
    const { payload, protectedHeader } = await verifyIdToken(tokens.body.id_token as string, c1);
    expect(payload).toMatchObject({ iss: gatehouse.issuer, aud: c1.client_id, sub: userSub, nonce: parameters.nonce });
    expect(payload.exp).toBeGreaterThan(payload.iat as number);
    const keys = ((await (await fetch(`${gatehouse.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys;
    expect(keys.map((key) => key.kid)).toContain(protectedHeader.kid);
    expect(new Set(keys.map((key) => key.kid)).size).toBe(keys.length);
  });

  it('oidcc-response-type-missing', async () => {
    const { parameters } = await codeRequest(c1);
    const { response_type: _missing, ...rest } = parameters;
    const { callback, page } = await authorize(gatehouse, rest);
    if (callback) expect(callback.searchParams.get('error')).toMatch(/^(invalid_request|unsupported_response_type)$/);
    else expect(page?.status).toBe(400);
    expect(callback?.searchParams.get('code') ?? null).toBeNull();
  });

  it('oidcc-idtoken-signature', async () => {
    const { body } = await signInForTokens(gatehouse, c1);
    expect(decodeProtectedHeader(body.id_token as string)).toMatchObject({ alg: 'RS256', kid: expect.any(String) });
    await expect(verifyIdToken(body.id_token as string, c1)).resolves.toBeTruthy();
  });

  it('oidcc-idtoken-unsigned (refused: alg none is never issued)', async () => {
    const discovery = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as {
      id_token_signing_alg_values_supported: string[];
    };
    expect(discovery.id_token_signing_alg_values_supported).toEqual(['RS256']);
    await expect(
      gatehouse.clients.registerClient({
        client_name: 'Unsigned',
        redirect_uris: [REDIRECT_URI],
        id_token_signed_response_alg: 'none',
      } as never),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_client_metadata' });
  });

  it('oidcc-userinfo-get', async () => {
    const { body } = await signInForTokens(gatehouse, c1, { scope: 'openid email' });
    const response = await userinfo(body.access_token as string);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: userSub, email: 'ada@example.test' });
  });

  it('oidcc-userinfo-post-header', async () => {
    const { body } = await signInForTokens(gatehouse, c1);
    const response = await userinfo(body.access_token as string, { method: 'POST' });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: userSub });
  });

  it('oidcc-userinfo-post-body', async () => {
    const { body } = await signInForTokens(gatehouse, c1);
    const response = await fetch(`${gatehouse.issuer}/me`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: body.access_token as string }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: userSub });
  });

  it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
    const { parameters, verifier } = await codeRequest(c1);
    const { nonce: _nonce, ...withoutNonce } = parameters;
    const { callback } = await authorize(gatehouse, withoutNonce);
    const tokens = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect(tokens.status).toBe(200);
    expect(claimsOf(tokens.body.id_token as string)).not.toHaveProperty('nonce');
  });

  const claimsFor = async (scope: string) => {
    const { body } = await signInForTokens(gatehouse, c1, { scope });
    return (await (await userinfo(body.access_token as string)).json()) as Record<string, unknown>;
  };

  it('oidcc-scope-profile', async () => {
    expect(await claimsFor('openid profile')).toMatchObject({ sub: userSub, name: 'Ada Lovelace' });
  });

  it('oidcc-scope-email', async () => {
    expect(await claimsFor('openid email')).toMatchObject({ email: 'ada@example.test', email_verified: true });
  });

  it('oidcc-scope-address (not supported: the scope is ignored, not an error)', async () => {
    const claims = await claimsFor('openid address');
    expect(claims).toMatchObject({ sub: userSub });
    expect(claims).not.toHaveProperty('address');
  });

  it('oidcc-scope-phone (not supported: the scope is ignored, not an error)', async () => {
    const claims = await claimsFor('openid phone');
    expect(claims).not.toHaveProperty('phone_number');
  });

  it('oidcc-scope-all', async () => {
    expect(await claimsFor('openid profile email address phone')).toMatchObject({
      sub: userSub,
      name: 'Ada Lovelace',
      email: 'ada@example.test',
    });
  });

  it('oidcc-alternate-happy-flow', async () => {
    const { parameters, verifier } = await codeRequest(c1, { scope: 'email openid' });
    const reordered = Object.fromEntries(Object.entries(parameters).reverse());
    const { callback } = await authorize(gatehouse, reordered);
    expect((await exchangeCode(gatehouse, c1, callback as URL, verifier)).status).toBe(200);
  });

  it('oidcc-display-page and oidcc-display-popup ([UI]: no error)', async () => {
    for (const display of ['page', 'popup']) {
      const { callback } = await authorize(gatehouse, (await codeRequest(c1, { display })).parameters);
      expect(callback?.searchParams.get('code'), display).toBeTruthy();
    }
  });

  it('oidcc-prompt-login', async () => {
    const first = await signInForTokens(gatehouse, c1);
    const firstAuthTime = claimsOf(first.body.id_token as string).auth_time as number;
    await sleep(1100); // auth_time has one-second resolution
    const { parameters, verifier } = await codeRequest(c1, { prompt: 'login' });
    const url = new URL(`${gatehouse.issuer}/auth`);
    url.search = new URLSearchParams(parameters).toString();
    const loginPage = await first.browser.open(url.toString(), { stopAt: REDIRECT_URI });
    expect(loginPage.html).toContain('/login"'); // asked to sign in again despite the session
    const { callback } = await authorize(gatehouse, parameters, { browser: first.browser });
    const second = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect(claimsOf(second.body.id_token as string).auth_time as number).toBeGreaterThan(firstAuthTime);
  });

  it('oidcc-prompt-none-not-logged-in', async () => {
    const { parameters } = await codeRequest(c1, { prompt: 'none' });
    const { callback } = await authorize(gatehouse, parameters);
    expect(callback?.searchParams.get('error')).toBe('login_required');
    expect(callback?.searchParams.get('state')).toBe(parameters.state);
  });

  it('oidcc-prompt-none-logged-in', async () => {
    const first = await signInForTokens(gatehouse, c1);
    const { parameters, verifier } = await codeRequest(c1, { prompt: 'none' });
    const { callback } = await authorize(gatehouse, parameters, { browser: first.browser });
    const second = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    const [a, b] = [claimsOf(first.body.id_token as string), claimsOf(second.body.id_token as string)];
    expect(b.sub).toBe(a.sub);
    expect(b.auth_time).toBe(a.auth_time);
  });

  it('oidcc-max-age-1', async () => {
    const first = await signInForTokens(gatehouse, c1);
    await sleep(2100); // older than max_age=1 at second resolution
    const { parameters, verifier } = await codeRequest(c1, { max_age: '1' });
    const url = new URL(`${gatehouse.issuer}/auth`);
    url.search = new URLSearchParams(parameters).toString();
    expect((await first.browser.open(url.toString(), { stopAt: REDIRECT_URI })).html).toContain('/login"');
    const { callback } = await authorize(gatehouse, parameters, { browser: first.browser });
    const second = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect(claimsOf(second.body.id_token as string).auth_time as number).toBeGreaterThan(
      claimsOf(first.body.id_token as string).auth_time as number,
    );
  });

  it('oidcc-max-age-10000', async () => {
    const first = await signInForTokens(gatehouse, c1);
    const { parameters, verifier } = await codeRequest(c1, { max_age: '10000' });
    const { callback } = await authorize(gatehouse, parameters, { browser: first.browser, consent: false });
    const second = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect(claimsOf(second.body.id_token as string).auth_time).toBe(claimsOf(first.body.id_token as string).auth_time);
  });

  it('oidcc-ensure-request-with-unknown-parameter-succeeds', async () => {
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { extra: 'foobar' })).parameters);
    expect(callback?.searchParams.get('code')).toBeTruthy();
  });

  it('oidcc-id-token-hint', async () => {
    const first = await signInForTokens(gatehouse, c1);
    const { parameters, verifier } = await codeRequest(c1, { prompt: 'none', id_token_hint: first.body.id_token as string });
    const { callback } = await authorize(gatehouse, parameters, { browser: first.browser });
    const second = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect(claimsOf(second.body.id_token as string).sub).toBe(claimsOf(first.body.id_token as string).sub);
  });

  it('oidcc-login-hint', async () => {
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { login_hint: 'ada@example.test' })).parameters);
    expect(callback?.searchParams.get('code')).toBeTruthy();
  });

  it('oidcc-ui-locales ([UI]: no error)', async () => {
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { ui_locales: 'se' })).parameters);
    expect(callback?.searchParams.get('code')).toBeTruthy();
  });

  it('oidcc-claims-locales', async () => {
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { claims_locales: 'se' })).parameters);
    expect(callback?.searchParams.get('code')).toBeTruthy();
  });

  it('oidcc-ensure-request-with-acr-values-succeeds', async () => {
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { acr_values: '1 2' })).parameters);
    expect(callback?.searchParams.get('code')).toBeTruthy();
  });

  it('oidcc-codereuse', async () => {
    const { parameters, verifier } = await codeRequest(c1);
    const { callback } = await authorize(gatehouse, parameters);
    expect((await exchangeCode(gatehouse, c1, callback as URL, verifier)).status).toBe(200);
    const again = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect(again.status).toBe(400);
    expect(again.body.error).toBe('invalid_grant');
  });

  it('oidcc-codereuse-30seconds (the first access token is revoked; the wait does not matter to Gatehouse)', async () => {
    const { parameters, verifier } = await codeRequest(c1);
    const { callback } = await authorize(gatehouse, parameters);
    const first = await exchangeCode(gatehouse, c1, callback as URL, verifier);
    expect((await userinfo(first.body.access_token as string)).status).toBe(200);
    expect((await exchangeCode(gatehouse, c1, callback as URL, verifier)).body.error).toBe('invalid_grant');
    // RFC 6749 §4.1.2: tokens issued from a reused code should be revoked.
    expect((await userinfo(first.body.access_token as string)).status).toBe(401);
  });

  it('oidcc-ensure-registered-redirect-uri', async () => {
    const { page, callback } = await authorize(
      gatehouse,
      (await codeRequest(c1, { redirect_uri: 'https://attacker.example/cb' })).parameters,
      { redirectUri: 'https://attacker.example/cb' },
    );
    expect(callback).toBeUndefined();
    expect(page?.status).toBe(400);
    expect(page?.headers.get('location')).toBeNull();
  });

  it('oidcc-ensure-post-request-succeeds', async () => {
    const { parameters, verifier } = await codeRequest(c1);
    const { callback } = await authorize(gatehouse, parameters, { method: 'POST' });
    expect((await exchangeCode(gatehouse, c1, callback as URL, verifier)).status).toBe(200);
  });

  it('oidcc-server-client-secret-post', async () => {
    const { body } = await signInForTokens(gatehouse, postClient, {}, { auth: 'post' });
    await expect(verifyIdToken(body.id_token as string, postClient)).resolves.toBeTruthy();
  });

  it('oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported (rejected: only PAR request_uris)', async () => {
    const { parameters } = await codeRequest(c1, { request_uri: 'https://rp.example/request.jwt' });
    const { callback, page } = await authorize(gatehouse, parameters);
    const error = callback?.searchParams.get('error') ?? page?.html ?? '';
    expect(error).toMatch(/request_uri_not_supported|invalid_request_uri/);
    const discovery = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.request_uri_parameter_supported).toBe(false);
  });

  it('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported (rejected)', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ client_id: c1.client_id, scope: 'openid' })).toString('base64url')}.`;
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { request: unsigned })).parameters);
    expect(callback?.searchParams.get('error')).toBe('request_not_supported');
  });

  it('oidcc-claims-essential (the claims parameter is not supported: ignored, not an error)', async () => {
    const claims = JSON.stringify({ userinfo: { name: { essential: true } } });
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { claims, scope: 'openid profile' })).parameters);
    expect(callback?.searchParams.get('code')).toBeTruthy();
  });

  it('oidcc-ensure-request-object-with-redirect-uri (request objects are refused)', async () => {
    const requestObject = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ redirect_uri: 'https://attacker.example/cb' })).toString('base64url')}.`;
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { request: requestObject })).parameters);
    expect(callback?.origin).toBe(new URL(REDIRECT_URI).origin);
    expect(callback?.searchParams.get('error')).toBe('request_not_supported');
  });

  it('oidcc-refresh-token', async () => {
    const { body } = await signInForTokens(gatehouse, c1, { scope: 'openid offline_access', prompt: 'consent' });
    const refreshed = await postAs(`${gatehouse.issuer}/token`, c1, {
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token as string,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers.get('cache-control')).toContain('no-store');
    expect(refreshed.headers.get('content-type')).toMatch(/application\/json;\s*charset=utf-8/i);
    const c2Tokens = await signInForTokens(gatehouse, c2, { scope: 'openid offline_access', prompt: 'consent' });
    // Bound to its client: client 2's refresh token is useless to client 1.
    const stolen = await postAs(`${gatehouse.issuer}/token`, c1, {
      grant_type: 'refresh_token',
      refresh_token: c2Tokens.body.refresh_token as string,
    });
    expect(stolen.status).toBe(400);
    expect(((await stolen.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it('oidcc-ensure-request-with-valid-pkce-succeeds', async () => {
    const { parameters, verifier } = await codeRequest(c1);
    const { callback } = await authorize(gatehouse, parameters, { browser: new Browser() });
    expect((await exchangeCode(gatehouse, c1, callback as URL, verifier)).status).toBe(200);
  });
});
