import { InMemoryWebStorage, OidcClient, WebStorageStateStore } from 'oidc-client-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { PASSWORD, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const SIGNED_OUT = 'http://127.0.0.1:8765/signed-out';

/**
 * oidc-client-ts, the library most single-page apps use, driven through its
 * OidcClient (UserManager minus the browser windows) with an in-memory store.
 */
describe('oidc-client-ts', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let spa: RegisteredClient;
  let client: OidcClient;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl } = await startWithSampleApp());
    spa = await gatehouse.clients.registerClient({
      client_name: 'My SPA',
      redirect_uris: [REDIRECT_URI],
      post_logout_redirect_uris: [SIGNED_OUT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      first_party: true,
    });
    client = new OidcClient({
      authority: gatehouse.issuer,
      client_id: spa.client_id,
      redirect_uri: REDIRECT_URI,
      post_logout_redirect_uri: SIGNED_OUT,
      scope: 'openid email offline_access',
      stateStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  const signIn = async () => {
    const request = await client.createSigninRequest({});
    const browser = new Browser();
    let page = await browser.open(request.url, { stopAt: REDIRECT_URI });
    page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
    return { response: await client.processSigninResponse(page.url), browser };
  };

  it('signs in (PKCE, no consent page for a first-party app) and gets a refresh token', async () => {
    const { response } = await signIn();
    expect(response.profile.email).toBe('ada@example.test');
    expect(response.refresh_token).toBeTruthy();
  });

  it('revokes its tokens without complaint (RFC 7009 §2.2: 200, no body, no content type)', async () => {
    const { response } = await signIn();
    await expect(client.revokeToken(response.refresh_token as string, 'refresh_token')).resolves.toBeUndefined();
    await expect(client.revokeToken(response.access_token, 'access_token')).resolves.toBeUndefined();
  });

  it('signs out through the end-session endpoint back to the app', async () => {
    const { response, browser } = await signIn();
    const request = await client.createSignoutRequest({ id_token_hint: response.id_token });
    const page = await browser.open(request.url, { stopAt: SIGNED_OUT });
    const done = await browser.submit(page, '/session/end/confirm', { logout: 'yes' }, { stopAt: SIGNED_OUT });
    expect(done.url.startsWith(SIGNED_OUT)).toBe(true);
  });
});
