import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForUser } from '../support/admin.js';
import { Browser } from '../support/browser.js';
import { enrolTotpOnAccountPage, passwordStepOfSampleApp, totpCode } from '../support/mfa.js';
import { PASSWORD, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';
import { passkeyOptions, SoftwareAuthenticator } from '../support/webauthn.js';

describe("GET /admin/users/:id/sign-in: an account's failed sign-ins, second factors included", () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let api: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    // Two wrong codes in a row, then each attempt waits an hour.
    started = await startWithSampleApp({
      GATEHOUSE_LOGIN_FREE_FAILURES: '2',
      GATEHOUSE_LOGIN_FIRST_DELAY: '1h',
      GATEHOUSE_TRUST_PROXY: 'true',
      GATEHOUSE_ADMIN_EMAIL: 'root@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'root password 1234',
    });
    api = adminClient(started.gatehouse, await adminTokenForUser(started.gatehouse, 'root@example.test', 'root password 1234'));
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  const newUser = (email: string) => started.gatehouse.users.createUser({ email, password: PASSWORD, emailVerified: true });
  const accountPage = async (email: string) => {
    const browser = new Browser();
    const login = await browser.open(`${started.gatehouse.url}/account`);
    return { browser, page: await browser.submit(login, '/login', { email, password: PASSWORD }) };
  };
  /** A sign-in to the sample app from `ip`, up to the page after the password. */
  const passwordStep = (email: string, ip: string) => passwordStepOfSampleApp(started, email, ip);

  it('reports wrong TOTP and recovery codes and a throttled attempt, with the factor, beside the password failures', async () => {
    const user = await newUser('codes@example.test');
    const account = await accountPage('codes@example.test');
    const { secret } = await enrolTotpOnAccountPage(account.browser, account.page);
    const { browser, page } = await passwordStep('codes@example.test', '198.51.100.21');

    // A code ten minutes ahead is not accepted (±1 step).
    const wrongTotp = await browser.submit(page, '/mfa', { code: await totpCode(secret, 20) }, { stopAt: REDIRECT_URI });
    expect(wrongTotp.status).toBe(401);
    const wrongRecovery = await browser.submit(wrongTotp, '/mfa', { code: 'abcde-fghij' }, { stopAt: REDIRECT_URI });
    expect(wrongRecovery.status).toBe(401);
    const throttled = await browser.submit(wrongRecovery, '/mfa', { code: await totpCode(secret) }, { stopAt: REDIRECT_URI });
    expect(throttled.status).toBe(429);

    const shown = await api('GET', `/users/${user.id}/sign-in`);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual({
      user_id: user.id,
      failed_attempts: 0,
      delayed_until: null,
      second_factor_failed_attempts: 2,
      second_factor_delayed_until: expect.any(String),
      second_factor_failures: [
        { occurred_at: expect.any(String), outcome: 'throttled', factor: 'totp', client_ip: '198.51.100.21' },
        { occurred_at: expect.any(String), outcome: 'failed', factor: 'recovery_code', client_ip: '198.51.100.21' },
        { occurred_at: expect.any(String), outcome: 'failed', factor: 'totp', client_ip: '198.51.100.21' },
      ],
    });

    // Unlocking clears the counters; the history stays.
    const unlocked = await api('POST', `/users/${user.id}/unlock`);
    expect(unlocked.body).toMatchObject({ second_factor_failed_attempts: 0, second_factor_delayed_until: null });
    expect(unlocked.body?.second_factor_failures).toHaveLength(3);
  });

  it('reports a refused passkey as a failed second factor of type passkey', async () => {
    const user = await newUser('passkey@example.test');
    const authenticator = new SoftwareAuthenticator(new URL(started.gatehouse.issuer).origin);
    const account = await accountPage('passkey@example.test');
    const added = await account.browser.submit(account.page, '/account/passkeys/register', {
      name: 'Laptop',
      response: JSON.stringify(authenticator.register(passkeyOptions(account.page, '/account/passkeys/register'))),
    });
    expect(added.html).toContain('Your passkey was added.');
    const { browser, page } = await passwordStep('passkey@example.test', '198.51.100.22');
    const refused = await browser.submit(
      page,
      '/mfa/passkey',
      { response: JSON.stringify(authenticator.authenticate(passkeyOptions(page, '/mfa/passkey'), { origin: 'https://evil.example' })) },
      { stopAt: REDIRECT_URI },
    );
    expect(refused.status).toBe(401);

    const shown = await api('GET', `/users/${user.id}/sign-in`);
    expect(shown.body).toMatchObject({
      second_factor_failed_attempts: 0,
      second_factor_failures: [{ outcome: 'failed', factor: 'passkey', client_ip: '198.51.100.22' }],
    });
  });

  it('answers 404 for an unknown user, as before', async () => {
    const unknown = await api('GET', '/users/00000000-0000-4000-8000-000000000000/sign-in');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: 'not_found' });
  });
});
