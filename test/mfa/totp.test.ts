import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import { Browser, type Page } from '../support/browser.js';
import { withConnectionLostOnEvent } from '../support/faults.js';
import { enrolTotpOnAccountPage, passwordStepOfSampleApp, shownRecoveryCodes, totpCode } from '../support/mfa.js';
import { authorizationRequestWithPkce, PASSWORD, REDIRECT_URI, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const ADMIN_ID = 'totp-admin-robot';
const ADMIN_SECRET = 'totp-admin-robot-secret-0123456789-abc';

describe('TOTP second factor with recovery codes', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    // Three wrong codes in a row, then each attempt waits (as passwords do).
    started = await startWithSampleApp({
      GATEHOUSE_LOGIN_FREE_FAILURES: '3',
      GATEHOUSE_LOGIN_FIRST_DELAY: '300',
      GATEHOUSE_ADMIN_CLIENT_ID: ADMIN_ID,
      GATEHOUSE_ADMIN_CLIENT_SECRET: ADMIN_SECRET,
    });
  });
  afterAll(async () => {
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
  });

  const accountPage = async (email = 'ada@example.test'): Promise<{ browser: Browser; page: Page }> => {
    const browser = new Browser();
    const login = await browser.open(`${started.gatehouse.url}/account`);
    const page = await browser.submit(login, '/login', { email, password: PASSWORD });
    return { browser, page };
  };
  const newUser = (email: string) =>
    started.gatehouse.users.createUser({ email, password: PASSWORD, name: 'Test User', emailVerified: true });
  /** Starts a sign-in to the sample app and enters the password: the page after it. */
  const passwordStep = (email = 'ada@example.test') => passwordStepOfSampleApp(started, email);

  it('enrols on the account page with a QR code and the key as text, confirmed by a current code, and stores the key sealed', async () => {
    const { browser, page } = await accountPage();
    expect(page.html).toContain('Two-step verification is off');
    const started1 = await browser.submit(page, '/account/mfa/totp');
    // Mustache escapes / and = in the attribute (&#x2F; &#x3D;), which the browser decodes.
    expect(started1.html).toMatch(/<img src="data:image&#x2F;svg\+xml;base64,[A-Za-z0-9+&#;]+"/);
    const secret = /type this key into the app: <code>([A-Z2-7]+)<\/code>/.exec(started1.html)?.[1] as string;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);

    const wrong = await browser.submit(started1, '/account/mfa/totp/confirm', {
      code: '000000' === (await totpCode(secret)) ? '111111' : '000000',
    });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('That code is not right.');

    const confirmed = await browser.submit(wrong, '/account/mfa/totp/confirm', { code: await totpCode(secret) });
    expect(confirmed.status).toBe(200);
    expect(confirmed.html).toContain('Two-step verification is on.');
    enrolled = { secret };
    const codes = shownRecoveryCodes(confirmed);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    expect(confirmed.html).toContain('You have <strong>10</strong> unused recovery codes.');
    expect(confirmed.html).toContain('Authenticator app');

    // At rest: the key sealed (AES-GCM), the recovery codes as keyed hashes.
    const rows = await started.gatehouse.prisma.$queryRawUnsafe<{ secret: string }[]>('SELECT secret FROM mfa_factors');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.secret).toMatch(/^v1\./);
    expect(rows[0]?.secret).not.toContain(secret);
    const hashes = await started.gatehouse.prisma.$queryRawUnsafe<{ code_hash: string }[]>('SELECT code_hash FROM mfa_recovery_codes');
    expect(hashes.map((row) => row.code_hash)).not.toContain(codes[0]);
    const events = await started.gatehouse.prisma.event.findMany({ where: { type: 'mfa.enrolled', subject: started.sample.user.id } });
    expect(events).toHaveLength(1);
  });

  it('asks for the code after the password, puts amr and acr in the ID token, and refuses the same code twice', async () => {
    const secret = await enrolledSecret();
    // The enrolment used the current step; the next one is within the ±1 step window.
    const code = await totpCode(secret, 1);
    const { tokens } = await signIn(started.config, { scope: 'openid', code: async () => code });
    const claims = tokens.claims();
    expect(claims?.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(claims?.acr).toBe('urn:gatehouse:acr:mfa');

    const { browser, page } = await passwordStep();
    expect(page.html).toContain('Code from your authenticator app');
    const replayed = await browser.submit(page, '/mfa', { code }, { stopAt: REDIRECT_URI });
    expect(replayed.status).toBe(401);
    expect(replayed.html).toContain('That code is not right.');
    const outside = await browser.submit(replayed, '/mfa', { code: await totpCode(secret, 3) }, { stopAt: REDIRECT_URI });
    expect(outside.status).toBe(401);
  });

  it('signs in with a recovery code once, says how many remain, audits its use, and makes new ones on the account page', async () => {
    const user = await newUser('rec@example.test');
    const { browser: account, page } = await accountPage('rec@example.test');
    const { recoveryCodes, page: enrolledPage } = await enrolTotpOnAccountPage(account, page);
    const code = recoveryCodes[0] as string;
    const { browser, page: codePage } = await passwordStep('rec@example.test');
    const recovered = await browser.submit(codePage, '/mfa', { code: code.toUpperCase() }, { stopAt: REDIRECT_URI });
    expect(recovered.html).toContain('You have 9 recovery codes left');
    let done = await browser.submit(recovered, '/mfa/continue', {}, { stopAt: REDIRECT_URI });
    if (done.html.includes('/confirm"')) done = await browser.submit(done, '/confirm', {}, { stopAt: REDIRECT_URI });
    expect(done.url.startsWith(REDIRECT_URI)).toBe(true);

    const again = await passwordStep('rec@example.test');
    const reused = await again.browser.submit(again.page, '/mfa', { code }, { stopAt: REDIRECT_URI });
    expect(reused.status).toBe(401);
    const used = await started.gatehouse.prisma.event.findMany({ where: { type: 'mfa.recovery_code_used', subject: user.id } });
    expect(used).toHaveLength(1);
    expect(used[0]?.details).toEqual({ remaining: 9 });

    const refused = await account.submit(enrolledPage, '/account/mfa/recovery-codes', { password: 'not it' });
    expect(refused.status).toBe(400);
    const fresh = await account.submit(enrolledPage, '/account/mfa/recovery-codes', { password: PASSWORD });
    const codes = shownRecoveryCodes(fresh);
    expect(codes).toHaveLength(10);
    expect(fresh.html).toContain('You have <strong>10</strong> unused recovery codes.');
    expect(recoveryCodes.some((old) => codes.includes(old))).toBe(false);
    const old = await passwordStep('rec@example.test');
    expect((await old.browser.submit(old.page, '/mfa', { code: recoveryCodes[5] as string }, { stopAt: REDIRECT_URI })).status).toBe(401);
    const next = await old.browser.submit(old.page, '/mfa', { code: codes[0] as string }, { stopAt: REDIRECT_URI });
    expect(next.html).toContain('You have 9 recovery codes left');
  });

  it('removes the authenticator app on the account page with the password, and the next sign-in needs the password only', async () => {
    const user = await newUser('remove@example.test');
    const { browser, page } = await accountPage('remove@example.test');
    const { page: enrolledPage } = await enrolTotpOnAccountPage(browser, page);
    const wrong = await browser.submit(enrolledPage, '/account/mfa/remove', { password: 'not it' });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('Your current password is not right.');
    const removed = await browser.submit(enrolledPage, '/account/mfa/remove', { password: PASSWORD });
    expect(removed.status).toBe(200);
    expect(removed.html).toContain('Two-step verification is off.');
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'mfa.removed', subject: user.id } })).toBe(1);
    // This browser stays signed in (the user removed it themselves).
    expect((await browser.open(`${started.gatehouse.url}/account`)).url).toBe(`${started.gatehouse.url}/account`);
    const next = await passwordStep('remove@example.test');
    expect(next.page.html).not.toContain('/mfa"');
  });

  it('throttles wrong codes per account like passwords, even for the right code, and audits them', async () => {
    await newUser('grace@example.test');
    const { browser: accountBrowser, page } = await accountPage('grace@example.test');
    const { secret } = await enrolTotpOnAccountPage(accountBrowser, page);
    const { browser, page: codePage } = await passwordStep('grace@example.test');
    let current = codePage;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      current = await browser.submit(current, '/mfa', { code: 'abcde-fghij' }, { stopAt: REDIRECT_URI });
      expect(current.status).toBe(401);
    }
    const blocked = await browser.submit(current, '/mfa', { code: await totpCode(secret, 1) }, { stopAt: REDIRECT_URI });
    expect(blocked.status).toBe(429);
    expect(blocked.html).toContain('Too many attempts');
    const user = await started.gatehouse.users.findUserByEmail('grace@example.test');
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'mfa.failed', subject: user?.id } })).toBe(3);
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'mfa.throttled', subject: user?.id } })).toBe(1);
    // A right password does not reset the code counter.
    const again = await passwordStep('grace@example.test');
    const stillBlocked = await again.browser.submit(again.page, '/mfa', { code: await totpCode(secret, 1) }, { stopAt: REDIRECT_URI });
    expect(stillBlocked.status).toBe(429);

    // An admin's unlock clears the code counters too: the right code signs in at once.
    const admin = adminClient(started.gatehouse, await adminTokenForClient(started.gatehouse, ADMIN_ID, ADMIN_SECRET));
    expect(await admin('POST', `/users/${user?.id}/unlock`)).toMatchObject({ status: 200, body: { failed_attempts: 0 } });
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'user.unlocked', subject: user?.id } })).toBe(1);
    const freed = await again.browser.submit(stillBlocked, '/mfa', { code: await totpCode(secret, 1) }, { stopAt: REDIRECT_URI });
    expect(freed.status).not.toBe(429);
    expect(freed.url.startsWith(REDIRECT_URI) || freed.html.includes('/confirm"')).toBe(true);
  });

  it('does not count a code whose check the database broke off as a wrong code, and loses nothing', async () => {
    const user = await newUser('outage@example.test');
    const { browser: accountBrowser, page } = await accountPage('outage@example.test');
    const { recoveryCodes } = await enrolTotpOnAccountPage(accountBrowser, page);
    const code = recoveryCodes[0] as string;
    const { browser, page: codePage } = await passwordStep('outage@example.test');
    // The connection is lost as the recovery code's use is recorded: its transaction never commits.
    const broken = await withConnectionLostOnEvent(started.gatehouse.prisma, 'mfa.recovery_code_used', () =>
      browser.submit(codePage, '/mfa', { code }, { stopAt: REDIRECT_URI }),
    );
    expect(broken.status).toBe(503);
    const admin = adminClient(started.gatehouse, await adminTokenForClient(started.gatehouse, ADMIN_ID, ADMIN_SECRET));
    expect(await admin('GET', `/users/${user.id}/sign-in`)).toMatchObject({ status: 200, body: { second_factor_failed_attempts: 0 } });
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'mfa.failed', subject: user.id } })).toBe(0);
    // The code was not used up: it signs in.
    const again = await passwordStep('outage@example.test');
    const recovered = await again.browser.submit(again.page, '/mfa', { code }, { stopAt: REDIRECT_URI });
    expect(recovered.html).toContain('You have 9 recovery codes left');
  });

  it('refuses a code form without its token, and a code for an interaction not waiting for one', async () => {
    const { browser, page } = await passwordStep();
    const forged = await browser.submit(page, '/mfa', { code: '123456', csrf: 'forged' }, { stopAt: REDIRECT_URI });
    expect(forged.status).toBe(403);
    const fresh = new Browser();
    const login = await fresh.open((await authorizationRequestWithPkce(started.config, { scope: 'openid' })).url);
    const uid = /\/interaction\/([\w-]+)\/login/.exec(login.html)?.[1] as string;
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.html)?.[1] as string;
    const early = await fresh.fetch(`${started.gatehouse.url}/interaction/${uid}/mfa/continue`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }),
    });
    expect([400, 403]).toContain(early.status);
  });

  let enrolled: { secret: string } | undefined;
  /** The sample user's key, enrolled once on the account page. */
  async function enrolledSecret(): Promise<string> {
    if (!enrolled) {
      const { browser, page } = await accountPage();
      enrolled = await enrolTotpOnAccountPage(browser, page);
    }
    return enrolled.secret;
  }
});
