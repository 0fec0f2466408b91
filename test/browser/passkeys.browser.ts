import { existsSync } from 'node:fs';
import * as oidc from 'openid-client';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationRequestWithPkce, discover, PASSWORD, REDIRECT_URI, registerSampleApp } from '../support/sample-app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Passkeys in a real browser: Chromium's virtual authenticator (CDP
 * WebAuthn.addVirtualAuthenticator) registers a passkey on /account through
 * the served script, then signs in with it alone. The issuer is `localhost`
 * (an IP address is not a valid WebAuthn RP ID).
 */
describe.skipIf(!existsSync(CHROMIUM))('passkeys in headless Chromium', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let browser: Browser;
  let config: oidc.Configuration;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const port = String(await testPort());
    gatehouse = await startTestGatehouse(databaseUrl, { PORT: port, ISSUER: `http://localhost:${port}` });
    const sample = await registerSampleApp(gatehouse);
    config = await discover(gatehouse, sample.client);
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  });
  afterAll(async () => {
    await browser?.close();
    await gatehouse?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  const submitAndWait = async (page: Page, selector: string) => {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  };

  it('adds a passkey on the account page and signs in with it alone', async () => {
    const page = await browser.newPage();
    const cdp = await page.createCDPSession();
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    await page.goto(`${gatehouse.issuer}/account`);
    await page.type('#email', 'ada@example.test');
    await page.type('#password', PASSWORD);
    await submitAndWait(page, 'form[action$="/login"] button[type="submit"]');
    expect(await page.content()).toContain('Your account');
    await page.$eval('#passkey-name', (input) => {
      (input as HTMLInputElement).value = 'Chromium';
    });
    await submitAndWait(page, 'form[data-passkey="register"] button[type="submit"]');
    expect(await page.content()).toContain('Your passkey was added.');

    // A fresh browser session: sign in to the sample app with the passkey alone.
    await cdp.send('Network.clearBrowserCookies');
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      if (request.url().startsWith(REDIRECT_URI)) void request.respond({ status: 200, contentType: 'text/plain', body: 'signed in' });
      else void request.continue();
    });
    const { url, codeVerifier } = await authorizationRequestWithPkce(config, { scope: 'openid' });
    await page.goto(url);
    // Conditional UI (passkeys offered as autofill) may answer at once with the
    // virtual authenticator; otherwise the button does.
    await page.click('form[data-passkey="authenticate"] button[type="submit"]').catch(() => undefined);
    await page.waitForFunction(
      (redirect: string) => location.href.startsWith(redirect) || document.querySelector('form[action$="/confirm"]') !== null,
      {},
      REDIRECT_URI,
    );
    if (page.url().includes('/interaction/')) await submitAndWait(page, 'form[action$="/confirm"] button[type="submit"]');
    expect(page.url().startsWith(REDIRECT_URI)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), { pkceCodeVerifier: codeVerifier });
    expect(tokens.claims()?.acr).toBe('urn:gatehouse:acr:mfa');
    expect(tokens.claims()?.amr).toContain('user');
  });
});
