import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../support/browser.js';
import { enrolTotpOnAccountPage, shownRecoveryCodes, shownSecret, totpCode } from '../support/mfa.js';
import {
  authorizationRequestWithPkce,
  discover,
  PASSWORD,
  REDIRECT_URI,
  signIn,
  startWithSampleApp,
  stopAndDrop,
} from '../support/sample-app.js';

const ACR_MFA = 'urn:gatehouse:acr:mfa';

/** The enrolment page inside a sign-in: type the key, confirm, see the codes, continue. */
async function enrolDuringSignIn(browser: Browser, page: Page): Promise<{ secret: string; recoveryCodes: string[]; page: Page }> {
  expect(page.html).toContain('Set up two-step verification');
  const secret = shownSecret(page);
  const wrong = await browser.submit(page, '/mfa/enrol', { code: 'nope' }, { stopAt: REDIRECT_URI });
  expect(wrong.status).toBe(400);
  expect(shownSecret(wrong)).toBe(secret);
  const codes = await browser.submit(wrong, '/mfa/enrol', { code: await totpCode(secret) }, { stopAt: REDIRECT_URI });
  const recoveryCodes = shownRecoveryCodes(codes);
  expect(recoveryCodes).toHaveLength(10);
  let next = await browser.submit(codes, '/mfa/continue', {}, { stopAt: REDIRECT_URI });
  if (next.html.includes('/confirm"')) next = await browser.submit(next, '/confirm', {}, { stopAt: REDIRECT_URI });
  return { secret, recoveryCodes, page: next };
}

/** Starts an authorization request in `browser` with the password step done when asked; the page after it. */
async function authorize(config: oidc.Configuration, browser: Browser, email: string, extra: Record<string, string> = {}) {
  const { url, codeVerifier } = await authorizationRequestWithPkce(config, { scope: 'openid', ...extra });
  let page = await browser.open(url, { stopAt: REDIRECT_URI });
  const askedPassword = page.html.includes('/login"');
  if (askedPassword) page = await browser.submit(page, '/login', { email, password: PASSWORD }, { stopAt: REDIRECT_URI });
  return { page, askedPassword, codeVerifier };
}

async function tokensFrom(config: oidc.Configuration, browser: Browser, page: Page, codeVerifier: string) {
  let done = page;
  if (done.html.includes('/confirm"')) done = await browser.submit(done, '/confirm', {}, { stopAt: REDIRECT_URI });
  expect(done.url.startsWith(REDIRECT_URI)).toBe(true);
  return oidc.authorizationCodeGrant(config, new URL(done.url), { pkceCodeVerifier: codeVerifier });
}

/**
 * After `email`'s user is disabled or deleted in the database alone, `browser`
 * (still holding the session cookie) is asked to sign in again:
 * login_required with prompt=none, the login page without it; never a
 * server error, and never a second-factor page for a user who is gone.
 */
async function expectSignInAgain(config: oidc.Configuration, browser: Browser, email: string) {
  const silent = await browser.open((await authorizationRequestWithPkce(config, { scope: 'openid', prompt: 'none' })).url, {
    stopAt: REDIRECT_URI,
  });
  expect(new URL(silent.url).searchParams.get('error'), email).toBe('login_required');
  const page = await browser.open((await authorizationRequestWithPkce(config, { scope: 'openid' })).url, { stopAt: REDIRECT_URI });
  expect(page.status, email).toBe(200);
  expect(page.html, email).toContain('name="password"');
  expect(page.html, email).not.toContain('Set up two-step verification');
}

describe('second-factor policies (GATEHOUSE_MFA=optional, GATEHOUSE_ADMIN_MFA=required)', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    started = await startWithSampleApp({ GATEHOUSE_ADMIN_MFA: 'required' });
  });
  afterAll(async () => {
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
  });
  const newUser = (email: string, roles: string[] = []) =>
    started.gatehouse.users.createUser({ email, password: PASSWORD, roles, emailVerified: true });

  it('advertises its acr values in discovery', async () => {
    const metadata = (await (await fetch(`${started.gatehouse.issuer}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(metadata.acr_values_supported).toEqual(['urn:gatehouse:acr:pwd', ACR_MFA]);
  });

  it('signs in with a password alone, as acr pwd, when nothing asks for more', async () => {
    const { tokens } = await signIn(started.config, { scope: 'openid' });
    expect(tokens.claims()?.amr).toEqual(['pwd']);
    expect(tokens.claims()?.acr).toBe('urn:gatehouse:acr:pwd');
  });

  /** A new require_mfa client `clientName`, and `email`'s first sign-in to it: through enrolment, to tokens. */
  async function firstSignInToRequireMfaClient(clientName: string, email: string) {
    const client = await started.gatehouse.clients.registerClient({
      client_name: clientName,
      redirect_uris: [REDIRECT_URI],
      require_mfa: true,
    });
    const config = await discover(started.gatehouse, client);
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(config, browser, email);
    const enrolled = await enrolDuringSignIn(browser, page);
    return { config, browser, tokens: await tokensFrom(config, browser, enrolled.page, codeVerifier) };
  }

  it('takes a user of a require_mfa client through enrolment at sign-in', async () => {
    await newUser('client-mfa@example.test');
    const { tokens } = await firstSignInToRequireMfaClient('Payroll', 'client-mfa@example.test');
    expect(tokens.claims()?.acr).toBe(ACR_MFA);
    expect(tokens.claims()?.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('asks a browser whose user of a require_mfa client was disabled in the database alone to sign in again, never a server error', async () => {
    const user = await newUser('client-mfa-gone@example.test');
    const { config, browser, tokens } = await firstSignInToRequireMfaClient('Payroll (gone user)', 'client-mfa-gone@example.test');
    expect(tokens.claims()?.acr).toBe(ACR_MFA);

    await started.gatehouse.prisma.$executeRaw`UPDATE users SET disabled = true WHERE id = ${user.id}::uuid`;
    await expectSignInAgain(config, browser, 'client-mfa-gone@example.test');
  });

  it('steps up inside a session: acr_values asking for MFA, then max_age, get the second factor without the password', async () => {
    await newUser('step@example.test');
    const browser = new Browser();
    const login = await browser.open(`${started.gatehouse.url}/account`);
    const account = await browser.submit(login, '/login', { email: 'step@example.test', password: PASSWORD });
    const { secret, recoveryCodes } = await enrolTotpOnAccountPage(browser, account);

    // The session signed in with a password only: the client asks for two factors.
    const stepUp = await authorize(started.config, browser, 'step@example.test', { acr_values: ACR_MFA });
    expect(stepUp.askedPassword).toBe(false);
    expect(stepUp.page.html).toContain('Code from your authenticator app');
    const afterCode = await browser.submit(stepUp.page, '/mfa', { code: await totpCode(secret, 1) }, { stopAt: REDIRECT_URI });
    const stepped = await tokensFrom(started.config, browser, afterCode, stepUp.codeVerifier);
    expect(stepped.claims()?.acr).toBe(ACR_MFA);
    expect(stepped.claims()?.amr).toEqual(['pwd', 'otp', 'mfa']);

    // The session now has two factors: single sign-on, no page.
    const again = await authorize(started.config, browser, 'step@example.test', { acr_values: ACR_MFA });
    expect(again.page.url.startsWith(REDIRECT_URI)).toBe(true);

    // max_age: the session signed in an hour ago (moved back in the database,
    // rather than waiting), so it must authenticate again: with the second factor (here a recovery code).
    const user = await started.gatehouse.users.findUserByEmail('step@example.test');
    const moved = await started.gatehouse.prisma.$executeRawUnsafe(
      `UPDATE oidc_payloads SET payload = jsonb_set(payload, '{loginTs}', to_jsonb((payload->>'loginTs')::int - 3600)) WHERE model = 'Session' AND payload->>'accountId' = $1`,
      user?.id,
    );
    expect(moved).toBe(1);
    const fresh = await authorize(started.config, browser, 'step@example.test', { max_age: '600' });
    expect(fresh.askedPassword).toBe(false);
    const recovered = await browser.submit(fresh.page, '/mfa', { code: recoveryCodes[0] as string }, { stopAt: REDIRECT_URI });
    expect(recovered.html).toContain('You have 9 recovery codes left');
    const continued = await browser.submit(recovered, '/mfa/continue', {}, { stopAt: REDIRECT_URI });
    const reauthenticated = await tokensFrom(started.config, browser, continued, fresh.codeVerifier);
    expect(reauthenticated.claims()?.acr).toBe(ACR_MFA);
    expect(reauthenticated.claims()?.auth_time).toBeGreaterThan((stepped.claims()?.auth_time as number) - 3600);
  });

  it('takes a user holding a require_mfa role through enrolment at sign-in, and asks for the code at the next one', async () => {
    await started.gatehouse.roles.createRole({ name: 'payroll', require_mfa: true });
    await newUser('payroll@example.test', ['payroll']);
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(started.config, browser, 'payroll@example.test');
    const { secret, page: done } = await enrolDuringSignIn(browser, page);
    const tokens = await tokensFrom(started.config, browser, done, codeVerifier);
    expect(tokens.claims()?.acr).toBe(ACR_MFA);
    expect(tokens.claims()?.amr).toEqual(['pwd', 'otp', 'mfa']);

    // A new browser: the password, then the code page; a wrong code is refused, the right one signs in.
    const other = new Browser();
    const next = await authorize(started.config, other, 'payroll@example.test');
    expect(next.page.html).toContain('Code from your authenticator app');
    const wrong = await other.submit(next.page, '/mfa', { code: '000000' }, { stopAt: REDIRECT_URI });
    expect(wrong.status).toBe(401);
    const right = await other.submit(wrong, '/mfa', { code: await totpCode(secret, 1) }, { stopAt: REDIRECT_URI });
    const again = await tokensFrom(started.config, other, right, next.codeVerifier);
    expect(again.claims()?.acr).toBe(ACR_MFA);
  });

  it("steps up a password-only session once one of its user's roles is made to require MFA, and not before", async () => {
    await started.gatehouse.roles.createRole({ name: 'auditors' });
    await newUser('auditor@example.test', ['auditors']);
    const browser = new Browser();
    const first = await authorize(started.config, browser, 'auditor@example.test');
    expect((await tokensFrom(started.config, browser, first.page, first.codeVerifier)).claims()?.acr).toBe('urn:gatehouse:acr:pwd');
    // Single sign-on while the role asks nothing.
    const sso = await authorize(started.config, browser, 'auditor@example.test');
    expect(sso.askedPassword).toBe(false);
    expect((await tokensFrom(started.config, browser, sso.page, sso.codeVerifier)).claims()?.acr).toBe('urn:gatehouse:acr:pwd');

    await started.gatehouse.roles.updateRole('auditors', { require_mfa: true });
    const stepUp = await authorize(started.config, browser, 'auditor@example.test');
    expect(stepUp.askedPassword).toBe(false);
    const enrolled = await enrolDuringSignIn(browser, stepUp.page);
    const stepped = await tokensFrom(started.config, browser, enrolled.page, stepUp.codeVerifier);
    expect(stepped.claims()?.acr).toBe(ACR_MFA);
    expect(stepped.claims()?.amr).toEqual(['pwd', 'otp', 'mfa']);
  });

  it('makes an admin enrol when GATEHOUSE_ADMIN_MFA=required, and lets others sign in with a password', async () => {
    await newUser('boss@example.test', ['admin']);
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(started.config, browser, 'boss@example.test');
    const enrolled = await enrolDuringSignIn(browser, page);
    expect((await tokensFrom(started.config, browser, enrolled.page, codeVerifier)).claims()?.acr).toBe(ACR_MFA);
  });
});

describe('GATEHOUSE_MFA=required', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    started = await startWithSampleApp({ GATEHOUSE_MFA: 'required' });
  });
  afterAll(async () => {
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
  });

  it('takes a user without a factor through enrolment at their next sign-in, then asks for the code', async () => {
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(started.config, browser, 'ada@example.test');
    const { secret, page: done } = await enrolDuringSignIn(browser, page);
    const tokens = await tokensFrom(started.config, browser, done, codeVerifier);
    expect(tokens.claims()?.amr).toEqual(['pwd', 'otp', 'mfa']);

    const next = await signIn(started.config, { scope: 'openid', code: () => totpCode(secret, 1) });
    expect(next.tokens.claims()?.acr).toBe(ACR_MFA);
  });
});

describe('GATEHOUSE_MFA=off', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    started = await startWithSampleApp({ GATEHOUSE_MFA: 'off' });
  });
  afterAll(async () => {
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
  });

  it('never asks for a second factor, not even for a require_mfa client or acr_values, and the account page has no two-step section', async () => {
    const client = await started.gatehouse.clients.registerClient({
      client_name: 'Payroll',
      redirect_uris: [REDIRECT_URI],
      require_mfa: true,
    });
    const config = await discover(started.gatehouse, client);
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(config, browser, 'ada@example.test', { acr_values: ACR_MFA });
    const tokens = await tokensFrom(config, browser, page, codeVerifier);
    expect(tokens.claims()?.acr).toBe('urn:gatehouse:acr:pwd');
    const account = await browser.open(`${started.gatehouse.url}/account`);
    expect(account.html).toContain('Your account');
    expect(account.html).not.toContain('Two-step verification');
    const post = await browser.fetch(`${started.gatehouse.url}/account/mfa/totp`, { method: 'POST' });
    expect(post.status).toBe(404);
  });

  it('asks a browser whose user was deleted in the database alone to sign in again, never a server error', async () => {
    const user = await started.gatehouse.users.createUser({ email: 'gone@example.test', password: PASSWORD, emailVerified: true });
    const browser = new Browser();
    const { page, codeVerifier } = await authorize(started.config, browser, 'gone@example.test');
    expect((await tokensFrom(started.config, browser, page, codeVerifier)).claims()?.sub).toBe(user.id);

    await started.gatehouse.prisma.$executeRaw`DELETE FROM users WHERE id = ${user.id}::uuid`;
    await expectSignInAgain(started.config, browser, 'gone@example.test');
  });
});
