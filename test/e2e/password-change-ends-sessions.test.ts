import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import type { Browser } from '../support/browser.js';
import { authorizationRequestWithPkce, REDIRECT_URI, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };
const ADMIN = { GATEHOUSE_ADMIN_CLIENT_ID: 'sessions-admin', GATEHOUSE_ADMIN_CLIENT_SECRET: 'sessions-admin-secret-long-enough-for-this' };

describe('a new password, a new email or disabling ends what the old one started', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let admin: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    started = await startWithSampleApp(ADMIN);
    admin = adminClient(
      started.gatehouse,
      await adminTokenForClient(started.gatehouse, ADMIN.GATEHOUSE_ADMIN_CLIENT_ID, ADMIN.GATEHOUSE_ADMIN_CLIENT_SECRET),
    );
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  /** The sample app's authorization request (PKCE), with `extra` parameters. */
  const authorizationUrl = async (extra: Record<string, string> = {}) =>
    (await authorizationRequestWithPkce(started.config, { scope: 'openid', ...extra })).url;

  /** prompt=none with the browser's session: back at the app with a code, or with an error. */
  const silentSignIn = async (browser: Browser) => {
    const page = await browser.open(await authorizationUrl({ prompt: 'none' }), { stopAt: REDIRECT_URI });
    return new URL(page.url).searchParams;
  };

  it('refuses a guessable password at the admin API, saying why, and changes nothing', async () => {
    const { tokens, browser } = await signIn(started.config, OFFLINE);
    const refused = await admin('PATCH', `/users/${started.sample.user.id}`, { password: 'password1234' });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_password', error_description: expect.stringContaining('commonly used password') });
    expect((await oidc.refreshTokenGrant(started.config, tokens.refresh_token as string)).access_token).toEqual(expect.any(String));
    expect((await silentSignIn(browser)).get('code')).toEqual(expect.any(String));
  });

  it('after PATCH /admin/users/:id {password} the old refresh token is invalid_grant and prompt=none says login_required', async () => {
    const { tokens, browser } = await signIn(started.config, OFFLINE);
    const changed = await admin('PATCH', `/users/${started.sample.user.id}`, { password: 'a brand new passphrase' });
    expect(changed.status).toBe(200);

    await expect(oidc.refreshTokenGrant(started.config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await silentSignIn(browser)).get('error')).toBe('login_required');
    const revoked = await started.gatehouse.prisma.event.findFirst({
      where: { type: 'user.sessions_revoked', subject: started.sample.user.id },
    });
    expect(revoked?.details).toMatchObject({ reasons: ['password_changed'] });

    // The new password signs in.
    const again = await signIn(started.config, { ...OFFLINE, password: 'a brand new passphrase' });
    expect(again.tokens.refresh_token).toEqual(expect.any(String));
  });

  it('a new name keeps sessions; a new email ends them and is not verified yet', async () => {
    const { tokens, browser } = await signIn(started.config, { ...OFFLINE, password: 'a brand new passphrase' });
    expect((await admin('PATCH', `/users/${started.sample.user.id}`, { name: 'Augusta Ada King' })).status).toBe(200);
    const refreshed = await oidc.refreshTokenGrant(started.config, tokens.refresh_token as string);

    const moved = await admin('PATCH', `/users/${started.sample.user.id}`, { email: 'augusta@example.test' });
    expect(moved).toMatchObject({ status: 200, body: { email: 'augusta@example.test', email_verified: false } });
    await expect(oidc.refreshTokenGrant(started.config, refreshed.refresh_token as string)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
    expect((await silentSignIn(browser)).get('error')).toBe('login_required');
  });

  it('asks a browser whose user was disabled or deleted in the database alone (the session kept) to sign in again: the login page, or login_required with prompt=none, never a server error', async () => {
    for (const [email, change] of [
      ['grace@example.test', (id: string) => started.gatehouse.prisma.$executeRaw`UPDATE users SET disabled = true WHERE id = ${id}::uuid`],
      ['hedy@example.test', (id: string) => started.gatehouse.prisma.$executeRaw`DELETE FROM users WHERE id = ${id}::uuid`],
    ] as const) {
      const user = await started.gatehouse.users.createUser({ email, password: 'a long enough passphrase' });
      const { browser } = await signIn(started.config, { email, password: 'a long enough passphrase' });
      expect((await silentSignIn(browser)).get('code')).toEqual(expect.any(String));

      await change(user.id);
      expect(Object.fromEntries(await silentSignIn(browser))).toMatchObject({ error: 'login_required' });
      const page = await browser.open(await authorizationUrl(), { stopAt: REDIRECT_URI });
      expect(page.status, email).toBe(200);
      expect(page.html).toContain('/login"');
    }
  });
});
