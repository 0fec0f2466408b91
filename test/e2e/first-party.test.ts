import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { API, discover, PASSWORD, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

/** `first_party: true`: the operator's own app signs in without a consent page. */
describe('first-party clients', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let spa: RegisteredClient;
  let thirdParty: oidc.Configuration;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, config: thirdParty } = await startWithSampleApp());
    spa = await gatehouse.clients.registerClient({
      client_name: 'Own SPA',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      first_party: true,
      api_access: [{ resource: API, scopes: ['items:read', 'items:write'] }],
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  /** Authorization request → login page → wherever Gatehouse sends the browser next (consent page or the app). */
  const signInWithoutConsenting = async (config: oidc.Configuration, scope: string, extra: Record<string, string> = {}) => {
    const verifier = oidc.randomPKCECodeVerifier();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
      ...extra,
    });
    const browser = new Browser();
    let page = await browser.open(url.toString(), { stopAt: REDIRECT_URI });
    page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
    return { page, verifier };
  };

  it('signs in with no consent page and gets a refresh token without prompt=consent', async () => {
    const config = await discover(gatehouse, spa);
    const { page, verifier } = await signInWithoutConsenting(config, 'openid email offline_access items:read', { resource: API });
    expect(page.url.startsWith(REDIRECT_URI), page.html.slice(0, 300)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(
      config,
      new URL(page.url),
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: API },
    );
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope?.split(' ')).toContain('items:read');
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.access_token).toBeTruthy();
  });

  it('records the consent as a grant: a later silent sign-in (prompt=none) succeeds', async () => {
    const config = await discover(gatehouse, spa);
    const verifier = oidc.randomPKCECodeVerifier();
    const browser = new Browser();
    const first = await browser.open(
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid email',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        })
        .toString(),
      { stopAt: REDIRECT_URI },
    );
    const done = await browser.submit(first, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
    expect(done.url.startsWith(REDIRECT_URI)).toBe(true);
    const silent = await browser.open(
      oidc
        .buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT_URI,
          scope: 'openid email',
          prompt: 'none',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        })
        .toString(),
      { stopAt: REDIRECT_URI },
    );
    expect(new URL(silent.url).searchParams.get('code')).toBeTruthy();
  });

  it('leaves third-party clients as they were: a consent page, and no refresh token without prompt=consent', async () => {
    const { page } = await signInWithoutConsenting(thirdParty, 'openid email offline_access');
    expect(page.html).toContain('/confirm"');
    expect(page.html).not.toContain('Stay signed in');
  });
});
