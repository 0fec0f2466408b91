import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { decodeJwt } from 'jose';
import { Browser, interactionsIn, recordRequests } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import {
  API,
  authorizationRequestWithPkce,
  discover,
  PASSWORD,
  REDIRECT_URI,
  signIn,
  startWithSampleApp,
  stopAndDrop,
} from '../support/sample-app.js';

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
    const { url, codeVerifier: verifier } = await authorizationRequestWithPkce(config, { scope, state: 'st', ...extra });
    const browser = new Browser();
    const sent = recordRequests(browser);
    let page = await browser.open(url, { stopAt: REDIRECT_URI });
    page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
    return { page, verifier, sent, browser };
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

  it('reaches the app with a code straight from the login: no consent interaction, four requests', async () => {
    const config = await discover(gatehouse, spa);
    // offline_access too: first-party.ts turns it into prompt=consent, which is implied as well.
    const { page, sent } = await signInWithoutConsenting(config, 'openid email offline_access items:read', { resource: API });
    expect(new URL(page.url).searchParams.get('code')).toBeTruthy();
    const [uid] = interactionsIn(sent);
    expect(sent).toEqual(['GET /auth', `GET /interaction/${uid}`, `POST /interaction/${uid}/login`, `GET /auth/${uid}`]);
  });

  it('spares a first-party native app the consent interaction too, as the consent page spared it the page (RFC 8252 §8.6)', async () => {
    const cli = await gatehouse.clients.registerClient({
      client_name: 'Own CLI',
      application_type: 'native',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      first_party: true,
    });
    const { page, sent } = await signInWithoutConsenting(await discover(gatehouse, cli), 'openid');
    expect(new URL(page.url).searchParams.get('code')).toBeTruthy();
    expect(interactionsIn(sent)).toHaveLength(1);
  });

  it('signs a signed-in user in to another first-party app at once: one request, the scopes it may have granted', async () => {
    const other = await gatehouse.clients.registerClient({
      client_name: 'Own tool',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      first_party: true,
      api_access: [{ resource: API, scopes: ['items:read'] }],
    });
    const { browser } = await signInWithoutConsenting(await discover(gatehouse, spa), 'openid');
    const sent = recordRequests(browser);
    const { tokens } = await signIn(await discover(gatehouse, other), { browser, scope: 'openid email items:read', resource: API });
    expect(sent[0]).toBe('GET /auth');
    expect(interactionsIn(sent)).toEqual([]);
    expect(String(decodeJwt(tokens.access_token).scope).split(' ')).toEqual(['items:read']);
  });

  it('answers a silent request (prompt=none) with a code for a first-party app new to the session, consent_required for a third-party one', async () => {
    const { browser } = await signInWithoutConsenting(await discover(gatehouse, spa), 'openid');
    const fresh = await gatehouse.clients.registerClient({
      client_name: 'Own app not used yet',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      first_party: true,
    });
    const silently = async (config: oidc.Configuration) => {
      const { url } = await authorizationRequestWithPkce(config, { scope: 'openid email', prompt: 'none' });
      return new URL((await browser.open(url, { stopAt: REDIRECT_URI })).url).searchParams;
    };
    expect((await silently(await discover(gatehouse, fresh))).get('code')).toBeTruthy();
    expect((await silently(thirdParty)).get('error')).toBe('consent_required');
  });

  it('gives a first-party app the admin API only for an admin, still without a consent page', async () => {
    const adminApi = `${gatehouse.issuer}/admin`;
    const tool = await gatehouse.clients.registerClient({
      client_name: 'Own admin tool',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      first_party: true,
      api_access: [{ resource: adminApi, scopes: ['admin', 'admin:users:read'] }],
    });
    await gatehouse.users.createUser({ email: 'boss@example.test', password: 'boss password 1234', roles: ['admin'] });
    const config = await discover(gatehouse, tool);
    const asUser = async (email: string, password: string) => {
      const browser = new Browser();
      const sent = recordRequests(browser);
      const { tokens } = await signIn(config, { browser, email, password, scope: 'openid admin:users:read', resource: adminApi });
      expect(interactionsIn(sent)).toHaveLength(1); // the login's
      return String(decodeJwt(tokens.access_token).scope ?? '');
    };
    expect(await asUser('ada@example.test', PASSWORD)).not.toContain('admin');
    expect(await asUser('boss@example.test', 'boss password 1234')).toBe('admin:users:read');
  });

  it('records the consent as a grant: a later silent sign-in (prompt=none) succeeds', async () => {
    const config = await discover(gatehouse, spa);
    const browser = new Browser();
    const firstRequest = await authorizationRequestWithPkce(config, { scope: 'openid email' });
    const first = await browser.open(firstRequest.url, { stopAt: REDIRECT_URI });
    const done = await browser.submit(first, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
    expect(done.url.startsWith(REDIRECT_URI)).toBe(true);
    const silentRequest = await authorizationRequestWithPkce(config, { scope: 'openid email', prompt: 'none' }, firstRequest.codeVerifier);
    const silent = await browser.open(silentRequest.url, { stopAt: REDIRECT_URI });
    expect(new URL(silent.url).searchParams.get('code')).toBeTruthy();
  });

  it('leaves third-party clients as they were: a consent page, and no refresh token without prompt=consent', async () => {
    const { page } = await signInWithoutConsenting(thirdParty, 'openid email offline_access');
    expect(page.html).toContain('/confirm"');
    expect(page.html).not.toContain('Stay signed in');
  });

  it('still sends a third-party app through a second interaction, the consent page, before its code', async () => {
    const { page, sent, browser } = await signInWithoutConsenting(thirdParty, 'openid email');
    const [login, consent] = interactionsIn(sent);
    expect(consent).toBeDefined();
    expect(consent).not.toBe(login);
    expect(page.url).toContain(`/interaction/${consent}`);
    expect(page.html).toContain('/confirm"');
    const done = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
    expect(new URL(done.url).searchParams.get('code')).toBeTruthy();
  });
});
