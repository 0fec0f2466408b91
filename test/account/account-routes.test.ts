import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDevice } from '../../src/account/account-routes.js';
import { Browser, type Page } from '../support/browser.js';
import { withConnectionLostOnEvent } from '../support/faults.js';
import { linkIn, recipientOf, startMailServer } from '../support/mail.js';
import { PASSWORD, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const PHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

describe('the account page (/account)', () => {
  let mail: Awaited<ReturnType<typeof startMailServer>>;
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    mail = await startMailServer();
    started = await startWithSampleApp({
      GATEHOUSE_SMTP_URL: mail.url,
      GATEHOUSE_TRUST_PROXY: 'true',
      GATEHOUSE_LOGIN_FREE_FAILURES: '3',
      GATEHOUSE_LOGIN_FIRST_DELAY: '1h',
    });
  });
  afterAll(async () => {
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
    await mail?.close();
  });

  /** A browser that opens /account and signs in through the login page. */
  const signedInBrowser = async (
    userAgent: string,
    ip: string,
    password = PASSWORD,
    email = 'ada@example.test',
  ): Promise<{ browser: Browser; page: Page }> => {
    const browser = new Browser();
    browser.headers['user-agent'] = userAgent;
    browser.headers['x-forwarded-for'] = ip;
    const login = await browser.open(`${started.gatehouse.url}/account`);
    expect(login.html).toContain('to continue to <strong>Your account</strong>');
    const page = await browser.submit(login, '/login', { email, password });
    return { browser, page };
  };
  const accountPage = (browser: Browser) => browser.open(`${started.gatehouse.url}/account`);

  it('signs in through the login page, without a consent page, and shows name, email and sessions', async () => {
    const { page } = await signedInBrowser(FIREFOX, '203.0.113.70');
    expect(page.url).toBe(`${started.gatehouse.url}/account`);
    expect(page.html).toContain('Ada Lovelace');
    expect(page.html).toContain('ada@example.test · verified');
    expect(page.html).toContain('Firefox on Linux');
    expect(page.html).toContain('203.0.113.70');
    expect(page.html).toContain('this browser');
  });

  it('changes the name, and refuses a form without its token', async () => {
    const { browser, page } = await signedInBrowser(FIREFOX, '203.0.113.71');
    const saved = await browser.submit(page, '/account/name', { name: 'Augusta Ada King' });
    expect(saved.status).toBe(200);
    expect(saved.html).toContain('Your name was saved.');
    expect(saved.html).toContain('Augusta Ada King');
    const forged = await browser.submit(page, '/account/name', { name: 'Mallory', csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect((await started.gatehouse.users.findUserById(started.sample.user.id))?.name).toBe('Augusta Ada King');
  });

  it('changes the password with the current one, keeps this session and ends the others and their refresh tokens', async () => {
    const app = await signIn(started.config, { scope: 'openid offline_access', prompt: 'consent' });
    const phone = await signedInBrowser(PHONE, '198.51.100.72');
    const { browser, page } = await signedInBrowser(FIREFOX, '203.0.113.72');
    expect(page.html).toContain('Safari on iPhone');

    const wrong = await browser.submit(page, '/account/password', { current: 'not my password', password: 'a calm new passphrase' });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('Your current password is not right.');
    const weak = await browser.submit(page, '/account/password', { current: PASSWORD, password: 'password1234' });
    expect(weak.status).toBe(400);
    expect(weak.html).toContain('Your new password is too easy to guess');

    const changed = await browser.submit(page, '/account/password', { current: PASSWORD, password: 'a calm new passphrase' });
    expect(changed.status).toBe(200);
    expect(changed.html).toContain('Your password was changed');
    // This browser stays signed in; the phone and the app's refresh token do not.
    expect((await accountPage(browser)).url).toBe(`${started.gatehouse.url}/account`);
    expect((await accountPage(phone.browser)).html).toContain('/login"');
    await expect(oidc.refreshTokenGrant(started.config, app.tokens.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('signs out one session or all the others', async () => {
    const phone = await signedInBrowser(PHONE, '198.51.100.73', 'a calm new passphrase');
    const other = await signedInBrowser(FIREFOX, '198.51.100.74', 'a calm new passphrase');
    const { browser, page } = await signedInBrowser(FIREFOX, '203.0.113.73', 'a calm new passphrase');

    const phoneSession = /value="([^"]+)">\s*<button type="submit" class="secondary">Sign out<\/button>[\s\S]*?/.exec(
      page.html.slice(page.html.indexOf('Safari on iPhone')),
    )?.[1] as string;
    const revoked = () =>
      started.gatehouse.prisma.event.findMany({
        where: { type: 'user.sessions_revoked', subject: started.sample.user.id, actor: `user:${started.sample.user.id}` },
        orderBy: { id: 'asc' },
      });
    const eventsBefore = (await revoked()).length;

    // A connection lost between ending the session and its audit event: neither happens (one transaction).
    const failed = await withConnectionLostOnEvent(started.gatehouse.prisma, 'user.sessions_revoked', () =>
      browser.submit(page, '/account/sessions/end', { session: phoneSession }),
    );
    expect(failed.status).toBe(503);
    expect((await accountPage(phone.browser)).url).toBe(`${started.gatehouse.url}/account`);
    expect(await revoked()).toHaveLength(eventsBefore);

    const ended = await browser.submit(page, '/account/sessions/end', { session: phoneSession });
    expect(ended.html).toContain('That session was signed out.');
    expect((await accountPage(phone.browser)).html).toContain('/login"');
    expect((await accountPage(other.browser)).url).toBe(`${started.gatehouse.url}/account`);
    expect((await revoked()).slice(eventsBefore)).toMatchObject([
      { clientIp: '203.0.113.73', requestId: expect.any(String), details: { removed: 1, session: phoneSession } },
    ]);

    const again = await browser.submit(ended, '/account/sessions/end', { session: phoneSession });
    expect(again.status).toBe(404);
    const rest = await browser.submit(again, '/account/sessions/end-others');
    expect(rest.html).toMatch(/other sessions? (was|were) signed out/);
    expect((await accountPage(other.browser)).html).toContain('/login"');
    expect((await accountPage(browser)).url).toBe(`${started.gatehouse.url}/account`);
    expect((await revoked()).slice(eventsBefore + 1)).toMatchObject([
      { details: { removed: expect.any(Number), kept: expect.any(String) } },
    ]);
  });

  it('sends a verification link on request when the email is not verified', async () => {
    await started.gatehouse.users.updateUser(started.sample.user.id, { emailVerified: false });
    const { browser, page } = await signedInBrowser(FIREFOX, '203.0.113.75', 'a calm new passphrase');
    expect(page.html).toContain('not verified');
    const sent = await browser.submit(page, '/account/verify-email');
    expect(sent.html).toContain('We sent a verification link to ada@example.test.');
    const message = await mail.nextMessage();
    const confirm = await new Browser().open(linkIn(message, `${started.gatehouse.issuer}/verify-email?token=`));
    await new Browser().submit(confirm, '/verify-email');
    expect((await accountPage(browser)).html).toContain('ada@example.test · verified');
  });

  it('sends an address at most 5 verification links an hour, then answers 429 with Retry-After and issues none', async () => {
    const grace = await started.gatehouse.users.createUser({ email: 'grace@example.test', password: PASSWORD });
    const { browser, page } = await signedInBrowser(FIREFOX, '203.0.113.77', PASSWORD, 'grace@example.test');
    const issued = () => started.gatehouse.prisma.accountToken.count({ where: { userId: grace.id, purpose: 'email_verification' } });
    let answer = page;
    for (let sent = 1; sent <= 5; sent += 1) {
      answer = await browser.submit(answer, '/account/verify-email');
      expect(answer.status).toBe(200);
      expect(answer.html).toContain('We sent a verification link to grace@example.test.');
      expect(recipientOf(await mail.nextMessage())).toBe('grace@example.test');
    }
    const refused = await browser.submit(answer, '/account/verify-email');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.html).toMatch(
      /No link was sent: grace@example\.test was already sent 5 verification links this hour\. Try again in \d+ minutes?\./,
    );
    // Nothing issued, so nothing can be emailed: the links stay the five sent.
    expect(await issued()).toBe(5);
    // Another address is counted on its own.
    await started.gatehouse.users.updateUser(started.sample.user.id, { emailVerified: false });
    const ada = await signedInBrowser(FIREFOX, '203.0.113.78', 'a calm new passphrase');
    const sentToAda = await ada.browser.submit(ada.page, '/account/verify-email');
    expect(sentToAda.status).toBe(200);
    expect(recipientOf(await mail.nextMessage())).toBe('ada@example.test');
    await started.gatehouse.users.updateUser(started.sample.user.id, { emailVerified: true });
  });

  it('guesses at the current password wait like guesses on the login page', async () => {
    const { browser, page } = await signedInBrowser(FIREFOX, '203.0.113.76', 'a calm new passphrase');
    let answer = page;
    for (let guess = 1; guess <= 3; guess += 1) {
      answer = await browser.submit(answer, '/account/password', { current: `guess number ${guess}`, password: 'an entirely new phrase' });
      expect(answer.status).toBe(400);
    }
    const right = await browser.submit(answer, '/account/password', {
      current: 'a calm new passphrase',
      password: 'an entirely new phrase',
    });
    expect(right.status).toBe(429);
    expect(right.html).toContain('Too many attempts, try again in 15 minutes.');
    expect(await started.gatehouse.users.authenticate('ada@example.test', 'a calm new passphrase')).toMatchObject({
      id: started.sample.user.id,
    });
  });

  it('names devices from their browser', () => {
    expect(describeDevice(FIREFOX)).toBe('Firefox on Linux');
    expect(describeDevice(PHONE)).toBe('Safari on iPhone');
    expect(describeDevice(null)).toBe('Unknown device');
  });
});
