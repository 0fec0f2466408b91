import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationRequestWithPkce, PASSWORD, REDIRECT_URI, registerSampleApp } from '../support/sample-app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Kept after the run (gitignored) so a reviewer can look at every page. */
const SCREENSHOTS = fileURLToPath(new URL('../../test-results/console-screenshots/', import.meta.url));

/**
 * The console in a real browser: sign in, create a web application, copy its
 * secret with the copy button, rotate it (accepting the confirmation dialog),
 * and sign a user in with the new secret. Every page is photographed. The
 * issuer is `localhost`, a secure context, so the clipboard API is there.
 */
describe.skipIf(!existsSync(CHROMIUM))('the admin console in headless Chromium', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    databaseUrl = await createTestDatabase();
    const port = String(await testPort());
    gatehouse = await startTestGatehouse(databaseUrl, { PORT: port, ISSUER: `http://localhost:${port}` });
    await registerSampleApp(gatehouse);
    await gatehouse.users.createUser({ email: 'root@example.test', password: PASSWORD, name: 'Root Admin', roles: ['admin'] });
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
    await browser
      .defaultBrowserContext()
      .overridePermissions(gatehouse.issuer, ['clipboard-read', 'clipboard-write', 'clipboard-sanitized-write']);
  });
  afterAll(async () => {
    await browser?.close();
    await gatehouse?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
    console.log(`console screenshots: ${SCREENSHOTS}`);
  });

  const shoot = (page: Page, name: string) => page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  const clickAndWait = async (page: Page, selector: string) => {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  };

  it('signs in, creates a web app, copies and rotates its secret, and a user signs in with the new one', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });

    await page.goto(`${gatehouse.issuer}/console`);
    await shoot(page, '01-sign-in');
    await page.type('#email', 'root@example.test');
    await page.type('#password', PASSWORD);
    await clickAndWait(page, 'form[action$="/login"] button[type="submit"]');
    expect(page.url()).toBe(`${gatehouse.issuer}/console`);
    expect(await page.content()).toContain('Overview');
    await shoot(page, '02-overview');

    await page.goto(`${gatehouse.issuer}/console/applications`);
    await shoot(page, '03-applications');
    await clickAndWait(page, 'a[href="/console/applications/new"]');
    await page.click('#type-web');
    await page.type('#client_name', 'Browser-made app');
    await page.type('#redirect_uris', REDIRECT_URI);
    await shoot(page, '04-new-application');
    await clickAndWait(page, 'form[action="/console/applications"] button[type="submit"]');
    await shoot(page, '05-application-created');
    const clientId = await page.$eval('#client-id', (element) => element.textContent?.trim() ?? '');
    const firstSecret = await page.$eval('#client-secret', (element) => element.textContent?.trim() ?? '');

    // The copy button (shown by the script) puts the secret on the clipboard.
    await page.click('button[data-copy="client-secret"]');
    await page.waitForFunction(() => document.querySelector('button[data-copy="client-secret"]')?.textContent === 'Copied');
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(firstSecret);

    await page.goto(`${gatehouse.issuer}/console/applications/${clientId}`);
    await shoot(page, '06-application-settings');
    // Rotation asks for confirmation first (the script's dialog).
    const dialogs: string[] = [];
    page.once('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.accept();
    });
    await clickAndWait(page, `form[action="/console/applications/${clientId}/secret"] button[type="submit"]`);
    expect(dialogs[0]).toContain('Issue a new secret for Browser-made app?');
    await shoot(page, '07-secret-rotated');
    await page.click('button[data-copy="client-secret"]');
    await page.waitForFunction(() => document.querySelector('button[data-copy="client-secret"]')?.textContent === 'Copied');
    const secret = await page.evaluate(() => navigator.clipboard.readText());
    expect(secret).not.toBe(firstSecret);

    for (const [path, name] of [
      ['/console/keys', '08-keys'],
      ['/console/users', '09-users'],
      [`/console/users/${(await gatehouse.users.findUserByEmail('ada@example.test'))?.id}`, '10-user'],
      ['/console/apis', '11-apis'],
      ['/console/roles', '12-roles'],
      ['/console/events', '13-audit-log'],
    ] as const) {
      await page.goto(`${gatehouse.issuer}${path}`);
      expect(await page.$('h1')).not.toBeNull();
      await shoot(page, name);
    }
    await page.setViewport({ width: 375, height: 740 });
    await page.goto(`${gatehouse.issuer}/console/applications/${clientId}`);
    await shoot(page, '14-narrow-application');
    expect(errors).toEqual([]);

    // A user signs in to the new app, which redeems the code with the rotated secret.
    const userContext = await browser.createBrowserContext();
    const userPage = await userContext.newPage();
    await userPage.setRequestInterception(true);
    userPage.on('request', (request) => {
      if (request.url().startsWith(REDIRECT_URI)) void request.respond({ status: 200, contentType: 'text/plain', body: 'signed in' });
      else void request.continue();
    });
    const config = await oidc.discovery(new URL(gatehouse.issuer), clientId, {}, oidc.ClientSecretBasic(secret), {
      execute: [oidc.allowInsecureRequests],
    });
    const state = oidc.randomState();
    const { url, codeVerifier } = await authorizationRequestWithPkce(config, { scope: 'openid email', state });
    await userPage.goto(url);
    await userPage.type('#email', 'ada@example.test');
    await userPage.type('#password', PASSWORD);
    await Promise.all([userPage.waitForNavigation(), userPage.click('form[action$="/login"] button[type="submit"]')]);
    if (userPage.url().includes('/interaction/')) {
      await shoot(userPage, '15-consent');
      await Promise.all([userPage.waitForNavigation(), userPage.click('form[action$="/confirm"] button[type="submit"]')]);
    }
    expect(userPage.url().startsWith(REDIRECT_URI)).toBe(true);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(userPage.url()), {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
    });
    expect(tokens.claims()?.email).toBe('ada@example.test');
    await userContext.close();
  });

  it('signs out of the console and of Gatehouse with one click: the next visit asks for the password', async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.goto(`${gatehouse.issuer}/console`);
    await page.type('#email', 'root@example.test');
    await page.type('#password', PASSWORD);
    await clickAndWait(page, 'form[action$="/login"] button[type="submit"]');
    expect(page.url()).toBe(`${gatehouse.issuer}/console`);

    await clickAndWait(page, 'form.sign-out button[type="submit"]');
    expect(page.url()).toBe(`${gatehouse.issuer}/console/signed-out`);
    await shoot(page, '16-signed-out');
    await page.goto(`${gatehouse.issuer}/console`);
    expect(await page.$('#password')).not.toBeNull();
    expect(await page.content()).toContain('Gatehouse console');
    await context.close();
  });
});
