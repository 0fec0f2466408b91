import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import { Browser, type Page } from '../support/browser.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { linkIn, startMailServer } from '../support/mail.js';
import { authorizationRequestWithPkce, PASSWORD, REDIRECT_URI, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const ADMIN = { GATEHOUSE_ADMIN_CLIENT_ID: 'mail-admin', GATEHOUSE_ADMIN_CLIENT_SECRET: 'mail-admin-secret-that-is-long-enough-1' };

describe('password reset and email verification over real email', () => {
  let mail: Awaited<ReturnType<typeof startMailServer>>;
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  const others: TestGatehouse[] = [];

  beforeAll(async () => {
    mail = await startMailServer();
    started = await startWithSampleApp({ ...ADMIN, GATEHOUSE_SMTP_URL: mail.url, GATEHOUSE_EMAIL_FROM: 'Gatehouse <auth@example.test>' });
  });
  afterAll(async () => {
    for (const other of others) await other.stop();
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
    await mail?.close();
  });

  /** The login page of a new sign-in. */
  const loginPage = async (): Promise<{ browser: Browser; page: Page }> => {
    const browser = new Browser();
    const { url } = await authorizationRequestWithPkce(started.config, { scope: 'openid email' });
    return { browser, page: await browser.open(url) };
  };
  const forgotLink = (page: Page) => {
    const href = /href="([^"]*forgot-password[^"]*)"/.exec(page.html)?.[1];
    if (!href) throw new Error('no "Forgot your password?" link');
    return new URL(href.replaceAll('&amp;', '&'), page.url).toString();
  };

  it('resets a forgotten password from the login page, ends the old sessions, and continues the sign-in', async () => {
    const before = await signIn(started.config, { scope: 'openid offline_access', prompt: 'consent' });
    const { browser, page: login } = await loginPage();
    expect(login.html).toContain('Forgot your password?');
    const forgot = await browser.open(forgotLink(login));
    const sent = await browser.submit(forgot, '/forgot-password', { email: 'ADA@example.test' });
    expect(sent.status).toBe(200);
    expect(sent.html).toContain('If an account exists for that email, we sent it a link');

    const message = await mail.nextMessage();
    expect(message.to).toMatchObject({ text: 'ada@example.test' });
    expect(message.from?.value[0]).toMatchObject({ name: 'Gatehouse', address: 'auth@example.test' });
    expect(message.subject).toBe(`Reset your ${new URL(started.gatehouse.issuer).host} password`);
    expect(message.html).toContain('Choose a new password');
    const link = linkIn(message, `${started.gatehouse.issuer}/reset-password?token=`);
    expect(message.html).toContain(link);
    // Only a hash of the token is stored.
    const token = new URL(link).searchParams.get('token') as string;
    expect(JSON.stringify(await started.gatehouse.prisma.accountToken.findMany())).not.toContain(token);

    const form = await browser.open(link);
    expect(form.html).toContain('ada@example.test');
    const weak = await browser.submit(form, '/reset-password', { password: 'password1234' });
    expect(weak.status).toBe(400);
    expect(weak.html).toContain('Your password is too easy to guess');
    const done = await browser.submit(weak, '/reset-password', { password: 'a fresh start at last' });
    expect(done.status).toBe(200);
    expect(done.html).toContain('Your password was changed');

    // The old password's refresh token and browser session are over.
    await expect(oidc.refreshTokenGrant(started.config, before.tokens.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect(await started.gatehouse.users.authenticate('ada@example.test', PASSWORD)).toBeNull();

    // The sign-in that was started continues, with the new password.
    const continueUrl = (/href="([^"]+)">Continue signing in/.exec(done.html)?.[1] ?? '').replaceAll('&#x2F;', '/');
    expect(continueUrl).toMatch(/^\/interaction\/[\w-]+$/);
    const again = await browser.open(new URL(continueUrl, done.url).toString());
    let page = await browser.submit(
      again,
      '/login',
      { email: 'ada@example.test', password: 'a fresh start at last' },
      { stopAt: REDIRECT_URI },
    );
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
    expect(new URL(page.url).searchParams.get('code')).toEqual(expect.any(String));

    // The link works once.
    const reused = await browser.open(link);
    expect(reused.status).toBe(400);
    expect(reused.html).toContain('This link has expired or was already used');
    const reposted = await browser.submit(form, '/reset-password', { password: 'yet another fresh start' });
    expect(reposted.status).toBe(400);
  });

  it('answers the same for an unknown email and sends nothing', async () => {
    const { browser, page: login } = await loginPage();
    const forgot = await browser.open(forgotLink(login));
    const unknown = await browser.submit(forgot, '/forgot-password', { email: 'nobody@example.test' });
    const known = await browser.submit(forgot, '/forgot-password', { email: 'ada@example.test' });
    expect(unknown.status).toBe(known.status);
    expect(unknown.html).toBe(known.html);
    // The next message is the known account's: none went to the unknown address.
    expect((await mail.nextMessage()).to).toMatchObject({ text: 'ada@example.test' });
    expect(mail.unread()).toBe(0);

    const bad = await browser.submit(forgot, '/forgot-password', { email: 'not an email' });
    expect(bad.status).toBe(400);
    expect(bad.html).toContain('Enter the email address of your account.');
    const nul = await browser.submit(forgot, '/forgot-password', { email: 'ada\u0000@example.test' });
    expect(nul.status).toBe(400);
    expect(nul.html).toContain('Enter the email address of your account.');
    expect((await browser.open(`${started.gatehouse.url}/reset-password?token=nonsense`)).status).toBe(400);
  });

  it('limits reset requests per email (quietly) and per IP (429)', async () => {
    const browser = new Browser();
    browser.headers['x-forwarded-for'] = '192.0.2.90'; // not trusted here: all requests come from loopback
    const forgot = await browser.open(`${started.gatehouse.url}/forgot-password`);
    const grace = await started.gatehouse.users.createUser({ email: 'lin@example.test', password: 'a quiet ocean at dawn' });
    const answers = [];
    for (let request = 1; request <= 7; request += 1)
      answers.push((await browser.submit(forgot, '/forgot-password', { email: 'lin@example.test' })).status);
    expect(answers).toEqual(Array(7).fill(200));
    // Five links an hour for one address: the rest are answered alike, and nothing is sent.
    expect(await started.gatehouse.prisma.accountToken.count({ where: { userId: grace.id } })).toBe(5);
    for (let sent = 0; sent < 5; sent += 1) expect((await mail.nextMessage()).to).toMatchObject({ text: 'lin@example.test' });

    const statuses = [];
    for (let request = 1; request <= 20; request += 1)
      statuses.push((await browser.submit(forgot, '/forgot-password', { email: `someone${request}@example.test` })).status);
    const refused = await browser.submit(forgot, '/forgot-password', { email: 'someone@example.test' });
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(refused.html).toContain('Too many requests from this address');
  });

  it('sends a verification link when an admin creates a user with send_verification_email, and following it sets email_verified', async () => {
    const admin = adminClient(
      started.gatehouse,
      await adminTokenForClient(started.gatehouse, ADMIN.GATEHOUSE_ADMIN_CLIENT_ID, ADMIN.GATEHOUSE_ADMIN_CLIENT_SECRET),
    );
    const created = await admin('POST', '/users', {
      email: 'grace@example.test',
      password: 'ships and compilers 1952',
      name: 'Grace Hopper',
      send_verification_email: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email_verified: false });

    const message = await mail.nextMessage();
    expect(message.to).toMatchObject({ text: 'grace@example.test' });
    expect(message.text).toContain('Hello Grace Hopper');
    const browser = new Browser();
    const confirm = await browser.open(linkIn(message, `${started.gatehouse.issuer}/verify-email?token=`));
    expect(confirm.html).toContain('grace@example.test');
    const done = await browser.submit(confirm, '/verify-email');
    expect(done.status).toBe(200);
    expect(done.html).toContain('grace@example.test is confirmed');

    const { tokens } = await signIn(started.config, { email: 'grace@example.test', password: 'ships and compilers 1952' });
    expect(tokens.claims()?.email_verified).toBe(true);
    expect((await browser.submit(confirm, '/verify-email')).status).toBe(400);
  });

  it('without SMTP writes emails to the outbox and logs where; in production says reset is unavailable', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-outbox-'));
    const development = await startTestGatehouse(started.databaseUrl, {
      ISSUER: started.gatehouse.issuer,
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_TRUST_PROXY: 'true',
    });
    others.push(development);
    const browser = new Browser();
    browser.headers['x-forwarded-for'] = '198.51.100.91'; // loopback used up its reset requests above
    const forgot = await browser.open(`${development.url}/forgot-password`);
    const sent = await browser.submit(forgot, '/forgot-password', { email: 'grace@example.test' });
    expect(sent.html).toContain('If an account exists');
    const outbox = join(dataDir, 'outbox');
    // The message is written in the background: the log line says when and where.
    await expect.poll(() => development.log.lines.find((line) => line.includes(outbox)), { timeout: 30_000 }).toEqual(expect.any(String));
    const [file] = await readdir(outbox);
    const eml = await simpleParser(await readFile(join(outbox, file as string)));
    expect(eml.to).toMatchObject({ text: 'grace@example.test' });
    expect(eml.text).toContain(`${development.issuer}/reset-password?token=`);
    expect(development.log.lines.join('\n')).not.toMatch(/token=/);

    const production = await startTestGatehouse(started.databaseUrl, { ISSUER: started.gatehouse.issuer, NODE_ENV: 'production' });
    others.push(production);
    const page = await new Browser().open(`${production.url}/forgot-password`);
    expect(page.html).toContain('Password reset by email is not available on this server');
    expect(page.html).not.toContain('name="email"');
  });
});
