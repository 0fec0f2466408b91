import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoginThrottle, SECOND_FACTOR_THROTTLE } from '../../../src/accounts/login-throttle.js';
import { runCliInProcess } from '../../support/cli.js';
import { TEST_SECRET } from '../../support/gatehouse.js';
import * as oidc from 'openid-client';
import { Browser } from '../../support/browser.js';
import { enrolTotpOnAccountPage, passwordStepOfSampleApp, totpCode } from '../../support/mfa.js';
import { PASSWORD, REDIRECT_URI, signIn, startWithSampleApp, stopAndDrop } from '../../support/sample-app.js';

describe('gatehouse users sign-in | unlock | set-password', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>> | undefined;
  let environment: Record<string, string>;

  beforeAll(async () => {
    started = await startWithSampleApp({ GATEHOUSE_LOGIN_FREE_FAILURES: '2', GATEHOUSE_LOGIN_FIRST_DELAY: '1h' });
    environment = { DATABASE_URL: started.databaseUrl, GATEHOUSE_SECRET: TEST_SECRET, GATEHOUSE_LOGIN_FREE_FAILURES: '2' };
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  it("shows an account's failed sign-ins and clears them", async () => {
    const { gatehouse, sample } =
      started ??
      (() => {
        throw new Error('not started');
      })();
    // Two failures, counted as the login page counts them.
    const throttle = createLoginThrottle(gatehouse.prisma, { freeFailures: 2, firstDelay: 3600, maxDelay: 3600, ipFailures: 100 });
    for (let failure = 0; failure < 2; failure += 1) {
      const attempt = await throttle.attempt(sample.user.email, '192.0.2.1');
      if (!attempt.allowed) throw new Error('refused');
      await attempt.failed();
    }

    const shown = await runCliInProcess(['users', 'sign-in', sample.user.id, '--json'], environment);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ user_id: sample.user.id, failed_attempts: 2, delayed_until: expect.any(String) });

    const unlocked = await runCliInProcess(['users', 'unlock', sample.user.id, '--json'], environment);
    expect(unlocked.code).toBe(0);
    expect(JSON.parse(unlocked.stdout)).toMatchObject({ failed_attempts: 0, delayed_until: null });
    expect(await throttle.accountState(sample.user.email)).toEqual({ failures: 0, delayedUntil: null });
    expect(await gatehouse.prisma.event.count({ where: { type: 'user.unlocked', actor: 'cli' } })).toBe(1);

    const unknown = await runCliInProcess(['users', 'unlock', '00000000-0000-4000-8000-000000000000'], environment);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no user');
  });

  it("unlock also clears the account's second-factor code counters", async () => {
    const { gatehouse, sample } =
      started ??
      (() => {
        throw new Error('not started');
      })();
    // Wrong codes counted as the code page counts them (src/mfa/mfa-module.ts), until the account must wait.
    const settings = { freeFailures: 2, firstDelay: 3600, maxDelay: 3600, ipFailures: 100 };
    const codes = createLoginThrottle(gatehouse.prisma, settings, SECOND_FACTOR_THROTTLE);
    for (let failure = 0; failure < 2; failure += 1) {
      const attempt = await codes.attempt(sample.user.email, '192.0.2.2');
      if (!attempt.allowed) throw new Error('refused');
      await attempt.failed();
    }
    expect(await codes.attempt(sample.user.email, '192.0.2.2')).toMatchObject({ allowed: false, reason: 'account' });

    const unlocked = await runCliInProcess(['users', 'unlock', sample.user.id, '--json'], environment);
    expect(unlocked.code).toBe(0);
    expect(await codes.accountState(sample.user.email)).toEqual({ failures: 0, delayedUntil: null });
    expect(await codes.attempt(sample.user.email, '192.0.2.2')).toMatchObject({ allowed: true });
    expect(
      await gatehouse.prisma.event.findFirst({ where: { type: 'user.unlocked', subject: sample.user.id }, orderBy: { id: 'desc' } }),
    ).toMatchObject({ actor: 'cli', details: { cleared: true } });
  });

  it('shows wrong second-factor codes with their factor, as text and as JSON', async () => {
    const { gatehouse, config } =
      started ??
      (() => {
        throw new Error('not started');
      })();
    const user = await gatehouse.users.createUser({ email: 'codes@example.test', password: PASSWORD, emailVerified: true });
    const account = new Browser();
    const accountPage = await account.submit(await account.open(`${gatehouse.url}/account`), '/login', {
      email: 'codes@example.test',
      password: PASSWORD,
    });
    const { secret } = await enrolTotpOnAccountPage(account, accountPage);
    // A sign-in to the sample app through the real pages: the password, then a wrong code.
    const { browser, page: codePage } = await passwordStepOfSampleApp({ config }, 'codes@example.test');
    const wrong = await browser.submit(codePage, '/mfa', { code: await totpCode(secret, 20) }, { stopAt: REDIRECT_URI });
    expect(wrong.status).toBe(401);

    const json = await runCliInProcess(['users', 'sign-in', user.id, '--json'], environment);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      failed_attempts: 0,
      second_factor_failed_attempts: 1,
      second_factor_failures: [{ outcome: 'failed', factor: 'totp', occurred_at: expect.any(String) }],
    });
    const text = await runCliInProcess(['users', 'sign-in', user.id], environment);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^second_factor_failed_attempts\s+1$/m);
    expect(text.stdout).toMatch(/^second_factor_failures\s+\S+Z failed totp from \S+$/m);

    const none = await runCliInProcess(
      ['users', 'sign-in', (await gatehouse.users.findUserByEmail('ada@example.test'))?.id ?? ''],
      environment,
    );
    expect(none.stdout).toMatch(/^second_factor_failures\s+none$/m);
  });

  it('sets a password under the policy and ends the sessions and refresh tokens of the old one', async () => {
    const { gatehouse, sample, config } =
      started ??
      (() => {
        throw new Error('not started');
      })();
    const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent' });

    const weak = await runCliInProcess(['users', 'set-password', sample.user.id, '--password-stdin'], environment, 'password1234\n');
    expect(weak.code).not.toBe(0);
    expect(weak.stderr).toContain('too easy to guess');

    const set = await runCliInProcess(
      ['users', 'set-password', sample.user.id, '--password-stdin', '--json'],
      environment,
      'a sturdier passphrase\n',
    );
    expect(set.code).toBe(0);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await gatehouse.users.authenticate(sample.user.email, 'a sturdier passphrase')).toMatchObject({ id: sample.user.id });
  });
});
