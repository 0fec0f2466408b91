import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import {
  API,
  authorizationRequestWithPkce,
  PASSWORD,
  REDIRECT_URI,
  signIn,
  startWithSampleApp,
  stopAndDrop,
} from '../support/sample-app.js';

/** The pages people see: consent, logout, error, favicon. */
describe('pages', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let config: oidc.Configuration;

  beforeAll(async () => {
    let sample: Awaited<ReturnType<typeof startWithSampleApp>>['sample'];
    ({ gatehouse, databaseUrl, config, sample } = await startWithSampleApp());
    await gatehouse.resources.createResource({ identifier: 'https://billing.example.test/', name: 'Billing', scopes: ['billing:read'] });
    await gatehouse.clients.grantApiAccess(sample.client.client_id, 'https://billing.example.test/', ['billing:read']);
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  const consentPage = async (browser: Browser, scope: string, resource: string[]) => {
    const url = new URL((await authorizationRequestWithPkce(config, { scope })).url);
    for (const indicator of resource) url.searchParams.append('resource', indicator);
    const page = await browser.open(url.toString(), { stopAt: REDIRECT_URI });
    return page.html.includes('/login"')
      ? browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI })
      : page;
  };

  it('the consent page shows one list: OIDC scopes, then each API with its scopes described, when only an API scope is new', async () => {
    const { browser } = await signIn(config, { scope: 'openid email' });
    const page = await consentPage(browser, 'openid email items:read billing:read', [API, 'https://billing.example.test/']);
    const list = /<ul class="scopes">([\s\S]*?)<\/ul>\s*<p class="muted">/.exec(page.html)?.[1] ?? '';
    expect(page.html.match(/<ul class="scopes">/g)).toHaveLength(1);
    expect(list).toContain('Use <strong>Items API</strong> for you:');
    expect(list).toContain('<li>Read your items</li>'); // the description registered on the API
    expect(list).toContain('Use <strong>Billing</strong> for you:');
    expect(list).toContain('<li>billing:read</li>'); // no description: its name
  });

  it('the logout page names the app that sent the user', async () => {
    const { tokens, browser } = await signIn(config);
    const url = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token as string });
    const page = await browser.open(url.toString());
    expect(page.html).toContain('<strong>Sample App</strong> asks to sign you out.');
    expect(page.html).not.toMatch(/sign out of 127\.0\.0\.1/);
    // Without id_token_hint or client_id, no app is known: the product is named.
    const withoutHint = await browser.open(`${gatehouse.issuer}/session/end`);
    expect(withoutHint.html).toContain('Do you want to sign out of Gatehouse?');
  });

  it('the error page says what happened in a sentence, with the technical error folded away', async () => {
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: 'https://evil.example/callback',
      scope: 'openid',
      code_challenge: 'x'.repeat(43),
      code_challenge_method: 'S256',
    });
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('Gatehouse could not complete this request. If an application sent you here, go back to it and try again');
    expect(html).toMatch(/<details>\s*<summary>Technical details<\/summary>\s*<p><code>invalid_redirect_uri<\/code>/);
    expect(html).not.toContain('class="alert"');
  });

  it('serves a favicon that every page links to', async () => {
    for (const path of ['/favicon.ico', '/favicon.svg']) {
      const response = await fetch(`${gatehouse.issuer}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/svg+xml');
      expect(await response.text()).toContain('<svg');
    }
    const login = await new Browser().open((await authorizationRequestWithPkce(config, { scope: 'openid' })).url);
    expect(login.html).toContain('<link rel="icon" href="/favicon.svg"');
  });
});
