import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../support/gatehouse.js';
import { Browser } from '../support/browser.js';
import {
  API,
  authorizationRequestWithPkce,
  PASSWORD,
  type registerSampleApp,
  signIn,
  startWithSampleApp,
  stopAndDrop,
} from '../support/sample-app.js';

describe('authorization code flow with PKCE', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, sample, config } = await startWithSampleApp());
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('publishes discovery with code flow, S256 only and RS256', () => {
    const metadata = config.serverMetadata();
    expect(metadata.issuer).toBe(gatehouse.issuer);
    expect(metadata.response_types_supported).toEqual(['code']);
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['RS256']);
    expect(metadata.userinfo_endpoint).toBe(`${gatehouse.issuer}/me`);
  });

  it('publishes only public key parameters in the JWKS', async () => {
    const response = await fetch(`${gatehouse.issuer}/jwks`);
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(2); // the signing key and the next one
    for (const key of keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: expect.any(String) });
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    }
  });

  it('signs a user in through the login and consent pages and issues an RS256 ID token', async () => {
    const { tokens, nonce } = await signIn(config);
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token as string, jwks, {
      issuer: gatehouse.issuer,
      audience: sample.client.client_id,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ sub: sample.user.id, nonce, email: 'ada@example.test', email_verified: true, name: 'Ada Lovelace' });
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('answers userinfo with the claims of the granted scopes', async () => {
    const { tokens } = await signIn(config);
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, sample.user.id);
    expect(userinfo).toEqual({ sub: sample.user.id, email: 'ada@example.test', email_verified: true, name: 'Ada Lovelace' });
  });

  it('releases roles only under the roles scope', async () => {
    const { tokens } = await signIn(config, { scope: 'openid roles' });
    const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, sample.user.id);
    expect(userinfo).toEqual({ sub: sample.user.id, roles: ['engineer'] });
  });

  it('issues an RFC 9068 JWT access token for a registered API', async () => {
    const { tokens } = await signIn(config, { scope: 'openid items:read', resource: API });
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: gatehouse.issuer,
      audience: API,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });
    expect(protectedHeader.kid).toBe(decodeProtectedHeader(tokens.id_token as string).kid);
    expect(payload).toMatchObject({ sub: sample.user.id, client_id: sample.client.client_id, scope: 'items:read' });
    expect(payload.jti).toEqual(expect.any(String));
    expect(Number(payload.exp) - Number(payload.iat)).toBe(sample.api.accessTokenTtl);
  });

  it('the consent page names the API and describes its scopes', async () => {
    const browser = new Browser();
    const { url } = await authorizationRequestWithPkce(config, { scope: 'openid items:read', resource: API });
    const login = await browser.open(url);
    const consent = await browser.submit(login, '/login', { email: 'ada@example.test', password: PASSWORD });
    expect(consent.html).toContain('Use <strong>Items API</strong> for you');
    expect(consent.html).toContain('<strong>Items API</strong>');
    expect(consent.html).toContain('Read your items');
  });

  it('reuses the consent already given: a second sign-in in the same browser skips both pages', async () => {
    const first = await signIn(config);
    const second = await signIn(config, { browser: first.browser, password: 'not used: no login page expected' });
    expect(second.tokens.id_token).toBeDefined();
  });

  it('does not leak the password, codes, tokens or session cookies into the log', async () => {
    const { tokens, callbackUrl, browser } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent' });
    const code = new URL(callbackUrl).searchParams.get('code') as string;
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    const log = gatehouse.log.lines.join('\n');
    expect(log).toContain('POST /interaction/');
    expect(log).toContain('POST /token');
    const secrets = [
      PASSWORD,
      code,
      tokens.access_token,
      tokens.id_token as string,
      tokens.refresh_token as string,
      refreshed.refresh_token as string,
      sample.client.client_secret as string,
      browser.cookie('_session') as string,
    ];
    expect(secrets.every(Boolean)).toBe(true);
    for (const secret of secrets) expect(log).not.toContain(secret);
  });

  it('signs the user out through the logout confirmation page', async () => {
    const { tokens, browser } = await signIn(config);
    const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token as string });
    const confirm = await browser.open(logoutUrl.toString());
    expect(confirm.html).toContain('Sign out?');
    const done = await browser.submit(confirm, '/session/end/confirm', { logout: 'yes' });
    expect(done.html).toContain('Signed out');
    // The session is gone: the next authorization request asks for the password again.
    const again = await browser.open(
      (await authorizationRequestWithPkce(config, { redirect_uri: sample.client.redirect_uris[0] as string, scope: 'openid' })).url,
    );
    expect(again.html).toContain('name="password"');
  });
});
