import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import {
  API,
  authorizationRequestWithPkce,
  discover,
  PASSWORD,
  REDIRECT_URI,
  startWithSampleApp,
  stopAndDrop,
} from '../support/sample-app.js';

/** Through the login (and consent) pages to the app's callback; returns the callback URL. */
async function throughPages(url: URL | string, browser = new Browser()): Promise<URL> {
  let page = await browser.open(url.toString(), { stopAt: REDIRECT_URI });
  if (page.html.includes('/login"'))
    page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
  if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
  if (!page.url.startsWith(REDIRECT_URI)) throw new Error(`did not reach the app: ${page.status} ${page.html.slice(0, 300)}`);
  return new URL(page.url);
}

/** PKCE (RFC 7636, S256) parameters for a pushed request, which oidc.buildAuthorizationUrlWithPAR sends. */
async function pkce() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, parameters: { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' } };
}

/** RFC 9126 (PAR) and RFC 9449 (DPoP) end to end with openid-client. */
describe('pushed authorization requests and DPoP', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let config: oidc.Configuration;
  let spa: RegisteredClient;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, config } = await startWithSampleApp());
    spa = await gatehouse.clients.registerClient({
      client_name: 'SPA',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('advertises both in discovery', () => {
    const metadata = config.serverMetadata();
    expect(metadata.pushed_authorization_request_endpoint).toBe(`${gatehouse.issuer}/request`);
    expect(metadata.dpop_signing_alg_values_supported).toEqual(expect.arrayContaining(['ES256']));
  });

  describe('PAR (RFC 9126)', () => {
    it('signs in through a pushed request, and its request_uri works once only', async () => {
      const { verifier, parameters } = await pkce();
      const url = await oidc.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: REDIRECT_URI,
        scope: 'openid email',
        state: 'par',
        ...parameters,
      });
      expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
      const callback = await throughPages(url);
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'par' });
      expect(tokens.access_token).toBeTruthy();

      // RFC 9126 §4: the request_uri is one-time use.
      const again = await new Browser().open(url.toString(), { stopAt: REDIRECT_URI });
      const answer = again.url.startsWith(REDIRECT_URI) ? new URL(again.url).searchParams : undefined;
      expect(answer?.get('code') ?? null).toBeNull();
      if (answer) expect(answer.get('error')).toBe('invalid_request_uri');
      else expect(again.html).toContain('invalid_request_uri');
    });

    it('refuses a plain authorization request from a client registered with require_pushed_authorization_requests', async () => {
      const strict = await gatehouse.clients.registerClient({
        client_name: 'Strict',
        redirect_uris: [REDIRECT_URI],
        require_pushed_authorization_requests: true,
      });
      const strictConfig = await discover(gatehouse, strict);
      const { parameters } = await pkce();
      const plain = await new Browser().open(
        oidc.buildAuthorizationUrl(strictConfig, { redirect_uri: REDIRECT_URI, scope: 'openid', ...parameters }).toString(),
        { stopAt: REDIRECT_URI },
      );
      expect(plain.url.startsWith(REDIRECT_URI) ? new URL(plain.url).searchParams.get('error') : plain.html).toContain('invalid_request');
      const pushed = await oidc.buildAuthorizationUrlWithPAR(strictConfig, { redirect_uri: REDIRECT_URI, scope: 'openid', ...parameters });
      expect(pushed.searchParams.get('request_uri')).toBeTruthy();
    });
  });

  describe('DPoP (RFC 9449)', () => {
    const signInWithDpop = async (client: RegisteredClient) => {
      const spaConfig = await discover(gatehouse, client);
      const keyPair = await oidc.randomDPoPKeyPair();
      const DPoP = oidc.getDPoPHandle(spaConfig, keyPair);
      const { url, codeVerifier } = await authorizationRequestWithPkce(spaConfig, {
        scope: 'openid email offline_access',
        prompt: 'consent',
      });
      const callback = await throughPages(url);
      const tokens = await oidc.authorizationCodeGrant(spaConfig, callback, { pkceCodeVerifier: codeVerifier }, undefined, { DPoP });
      return { spaConfig, DPoP, tokens };
    };

    it('binds the access token: userinfo refuses it without its proof', async () => {
      const { spaConfig, DPoP, tokens } = await signInWithDpop(spa);
      expect(tokens.token_type.toLowerCase()).toBe('dpop');
      const sub = tokens.claims()?.sub as string;
      await expect(oidc.fetchUserInfo(spaConfig, tokens.access_token, sub, { DPoP })).resolves.toMatchObject({ sub });
      // As a bearer token: 401 (RFC 9449 §7.2); with the DPoP scheme but no proof: 400 invalid_request.
      const asBearer = await fetch(`${gatehouse.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(asBearer.status).toBe(401);
      const withoutProof = await fetch(`${gatehouse.issuer}/me`, { headers: { authorization: `DPoP ${tokens.access_token}` } });
      expect(withoutProof.status).toBe(400);
      expect(await withoutProof.json()).toMatchObject({ error: 'invalid_request' });
    });

    it("binds a public client's refresh token to the key: another key, or none, cannot use it", async () => {
      const { spaConfig, DPoP, tokens } = await signInWithDpop(spa);
      const refreshToken = tokens.refresh_token as string;
      const otherKey = oidc.getDPoPHandle(spaConfig, await oidc.randomDPoPKeyPair());
      await expect(oidc.refreshTokenGrant(spaConfig, refreshToken, undefined, { DPoP: otherKey })).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      await expect(oidc.refreshTokenGrant(spaConfig, refreshToken)).rejects.toMatchObject({
        error: expect.stringMatching(/invalid_grant|invalid_dpop_proof/),
      });
      // Its own key still works: the refusals were the binding, not a broken token.
      await expect(oidc.refreshTokenGrant(spaConfig, refreshToken, undefined, { DPoP })).resolves.toMatchObject({
        token_type: expect.stringMatching(/^dpop$/i),
      });
    });

    it('refreshes with the same key', async () => {
      const { spaConfig, DPoP, tokens } = await signInWithDpop(spa);
      const refreshed = await oidc.refreshTokenGrant(spaConfig, tokens.refresh_token as string, undefined, { DPoP });
      expect(refreshed.token_type.toLowerCase()).toBe('dpop');
    });

    it('introspection names a DPoP-bound API token as such, with its key thumbprint (RFC 9449 §6.2)', async () => {
      const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
      const { url, codeVerifier } = await authorizationRequestWithPkce(config, { scope: 'openid items:read', resource: API });
      const callback = await throughPages(url);
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: codeVerifier }, { resource: API }, { DPoP });
      const introspection = await oidc.tokenIntrospection(config, tokens.access_token);
      expect(introspection).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt: expect.any(String) } });
    });

    it('requires a proof from a client registered with dpop_bound_access_tokens', async () => {
      const bound = await gatehouse.clients.registerClient({
        client_name: 'Bound',
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        dpop_bound_access_tokens: true,
      });
      const boundConfig = await discover(gatehouse, bound);
      const { url, codeVerifier } = await authorizationRequestWithPkce(boundConfig, { scope: 'openid' });
      const callback = await throughPages(url);
      await expect(oidc.authorizationCodeGrant(boundConfig, callback, { pkceCodeVerifier: codeVerifier })).rejects.toMatchObject({
        error: 'invalid_grant',
      });
      // The refusal was for the missing proof: the same code, with one, works.
      const DPoP = oidc.getDPoPHandle(boundConfig, await oidc.randomDPoPKeyPair());
      const tokens = await oidc.authorizationCodeGrant(boundConfig, callback, { pkceCodeVerifier: codeVerifier }, undefined, { DPoP });
      expect(tokens.token_type.toLowerCase()).toBe('dpop');
    });
  });
});
