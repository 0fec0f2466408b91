import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, findForm, type Page } from '../support/browser.js';
import { shownRecoveryCodes } from '../support/mfa.js';
import { authorizationRequestWithPkce, PASSWORD, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';
import { passkeyOptions, SoftwareAuthenticator } from '../support/webauthn.js';

describe('passkeys (WebAuthn) with a software authenticator', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let authenticator: SoftwareAuthenticator;

  beforeAll(async () => {
    started = await startWithSampleApp();
    authenticator = new SoftwareAuthenticator(new URL(started.gatehouse.issuer).origin);
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  const accountPage = async (): Promise<{ browser: Browser; page: Page }> => {
    const browser = new Browser();
    const login = await browser.open(`${started.gatehouse.url}/account`);
    return { browser, page: await browser.submit(login, '/login', { email: 'ada@example.test', password: PASSWORD }) };
  };
  const authorize = async (browser: Browser) => {
    const { url, codeVerifier } = await authorizationRequestWithPkce(started.config, { scope: 'openid' });
    return { page: await browser.open(url, { stopAt: REDIRECT_URI }), codeVerifier };
  };
  /** What the login page's script does: fetch a fresh passwordless challenge. */
  const passwordlessOptions = async (browser: Browser, page: Page) => {
    const form = findForm(page, '/passkey');
    const response = await browser.fetch(new URL(form.action.replace(/\/passkey$/, '/passkey/options'), page.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: form.fields.csrf as string }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Parameters<SoftwareAuthenticator['authenticate']>[0];
  };
  const tokens = async (browser: Browser, page: Page, codeVerifier: string) => {
    let done = page;
    if (done.html.includes('/confirm"')) done = await browser.submit(done, '/confirm', {}, { stopAt: REDIRECT_URI });
    expect(done.url.startsWith(REDIRECT_URI)).toBe(true);
    return oidc.authorizationCodeGrant(started.config, new URL(done.url), { pkceCodeVerifier: codeVerifier });
  };

  it('registers a passkey on the account page, and refuses one made for another origin or RP ID', async () => {
    const { browser, page } = await accountPage();
    expect(page.html).toContain('Adding a passkey needs JavaScript in your browser.');
    expect(page.html).toContain('<script src="/assets/passkey.js"></script>');
    const options = passkeyOptions(page, '/account/passkeys/register');
    expect(options.rp.id).toBe('127.0.0.1');

    // A second authenticator makes the refused credentials, so they are not offered later.
    const liar = new SoftwareAuthenticator(new URL(started.gatehouse.issuer).origin);
    const evil = await browser.submit(page, '/account/passkeys/register', {
      name: 'Evil',
      response: JSON.stringify(liar.register(options, { origin: 'https://evil.example' })),
    });
    expect(evil.status).toBe(400);
    expect(evil.html).toContain('The passkey was not accepted');
    const otherRp = await browser.submit(evil, '/account/passkeys/register', {
      name: 'Other',
      response: JSON.stringify(liar.register(passkeyOptions(evil, '/account/passkeys/register'), { rpId: 'example.com' })),
    });
    expect(otherRp.status).toBe(400);
    const garbage = await browser.submit(otherRp, '/account/passkeys/register', { name: 'Garbage', response: '{not json' });
    expect(garbage.status).toBe(400);

    const added = await browser.submit(garbage, '/account/passkeys/register', {
      name: 'Laptop',
      response: JSON.stringify(authenticator.register(passkeyOptions(garbage, '/account/passkeys/register'))),
    });
    expect(added.status).toBe(200);
    expect(added.html).toContain('Your passkey was added.');
    expect(added.html).toContain('<strong>Laptop</strong>');
    // The first factor comes with ten recovery codes.
    expect(shownRecoveryCodes(added)).toHaveLength(10);
    // The challenge was used up: the same answer again is refused.
    expect((await browser.submit(garbage, '/account/passkeys/register', { name: 'Again', response: '{}' })).status).toBe(400);
    expect(
      await started.gatehouse.prisma.event.count({ where: { type: 'mfa.enrolled', details: { path: ['type'], equals: 'passkey' } } }),
    ).toBe(1);
  });

  it('signs in with the passkey alone (user verified), as hwk + user = mfa', async () => {
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(browser);
    expect(page.html).toContain('Signing in with a passkey needs JavaScript in your browser.');
    expect(page.html).not.toContain('data-passkey-options=');
    const options = await passwordlessOptions(browser, page);
    expect(options.allowCredentials ?? []).toEqual([]);
    const signedIn = await browser.submit(
      page,
      '/passkey',
      { response: JSON.stringify(authenticator.authenticate(options)) },
      { stopAt: REDIRECT_URI },
    );
    const claims = (await tokens(browser, signedIn, codeVerifier)).claims();
    expect(claims?.amr).toEqual(['hwk', 'user', 'mfa']);
    expect(claims?.acr).toBe('urn:gatehouse:acr:mfa');
  });

  it('refuses a passwordless sign-in without user verification, from another origin, or with a replayed counter', async () => {
    const attempt = async (lie: Parameters<SoftwareAuthenticator['authenticate']>[1]) => {
      const browser = new Browser();
      const { page } = await authorize(browser);
      return browser.submit(
        page,
        '/passkey',
        { response: JSON.stringify(authenticator.authenticate(await passwordlessOptions(browser, page), lie)) },
        { stopAt: REDIRECT_URI },
      );
    };
    expect((await attempt({ userVerified: false })).status).toBe(401);
    expect((await attempt({ origin: 'https://evil.example' })).status).toBe(401);
    expect((await attempt({ rpId: 'example.com' })).status).toBe(401);
    const replayed = await attempt({ counter: 1 });
    expect(replayed.status).toBe(401);
    expect(replayed.html).toContain('That passkey was not accepted.');
    const reasons = (await started.gatehouse.prisma.event.findMany({ where: { type: 'mfa.failed' } })).map(
      (event) => (event.details as { reason?: string }).reason,
    );
    // The library refuses a counter that did not grow (and the conditional update would too).
    expect(reasons.some((reason) => /counter/i.test(reason ?? ''))).toBe(true);
  });

  it('uses the passkey as the second factor after the password', async () => {
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(browser);
    const second = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
    expect(second.html).toContain('Use a passkey instead');
    const options = passkeyOptions(second, '/mfa/passkey');
    expect(options.allowCredentials).toHaveLength(1);
    const wrongOrigin = await browser.submit(
      second,
      '/mfa/passkey',
      { response: JSON.stringify(authenticator.authenticate(options, { origin: 'https://evil.example' })) },
      { stopAt: REDIRECT_URI },
    );
    expect(wrongOrigin.status).toBe(401);
    const done = await browser.submit(
      wrongOrigin,
      '/mfa/passkey',
      { response: JSON.stringify(authenticator.authenticate(passkeyOptions(wrongOrigin, '/mfa/passkey'))) },
      { stopAt: REDIRECT_URI },
    );
    const claims = (await tokens(browser, done, codeVerifier)).claims();
    expect(claims?.amr).toEqual(['pwd', 'hwk', 'user', 'mfa']);
  });
});
