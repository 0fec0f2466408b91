import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForUser } from '../support/admin.js';
import { Browser } from '../support/browser.js';
import { runCliInProcess } from '../support/cli.js';
import { TEST_SECRET } from '../support/gatehouse.js';
import { enrolTotpOnAccountPage, totpCode } from '../support/mfa.js';
import { PASSWORD, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

describe("admin API and CLI: a user's second factors", () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let api: ReturnType<typeof adminClient>;
  let environment: Record<string, string>;

  beforeAll(async () => {
    started = await startWithSampleApp({ GATEHOUSE_ADMIN_EMAIL: 'root@example.test', GATEHOUSE_ADMIN_PASSWORD: 'root password 1234' });
    api = adminClient(started.gatehouse, await adminTokenForUser(started.gatehouse, 'root@example.test', 'root password 1234'));
    environment = { DATABASE_URL: started.databaseUrl, GATEHOUSE_SECRET: TEST_SECRET };
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  const enrol = async () => {
    const browser = new Browser();
    const login = await browser.open(`${started.gatehouse.url}/account`);
    const page = await browser.submit(login, '/login', { email: 'ada@example.test', password: PASSWORD });
    return enrolTotpOnAccountPage(browser, page);
  };

  it('shows factors without secrets, and a reset removes them all, ends the sessions and refresh tokens, and is audited', async () => {
    const { secret } = await enrol();
    const id = started.sample.user.id;
    const { tokens } = await signIn(started.config, { scope: 'openid offline_access', prompt: 'consent', code: () => totpCode(secret, 1) });

    const shown = await api('GET', `/users/${id}/mfa`);
    expect(shown.status).toBe(200);
    expect(shown.body).toEqual({
      user_id: id,
      factors: [
        {
          id: expect.any(String),
          type: 'totp',
          name: 'Authenticator app',
          created_at: expect.any(String),
          last_used_at: expect.any(String),
        },
      ],
      recovery_codes_left: 10,
    });
    expect(JSON.stringify(shown.body)).not.toContain(secret);

    expect((await api('GET', '/users/00000000-0000-4000-8000-000000000000/mfa')).status).toBe(404);
    expect((await api('GET', '/users/not-a-uuid/mfa')).status).toBe(404);
    const badFactor = await api('DELETE', `/users/${id}/mfa/not-a-uuid`);
    expect(badFactor.status).toBe(404);
    expect(badFactor.body).toMatchObject({ error: 'not_found' });

    const cli = await runCliInProcess(['users', 'mfa', id, '--json'], environment);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/"type": ?"totp"/);
    expect(cli.stdout).not.toContain(secret);

    const reset = await api('DELETE', `/users/${id}/mfa`);
    expect(reset.status).toBe(204);
    await expect(oidc.refreshTokenGrant(started.config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await api('GET', `/users/${id}/mfa`)).body).toEqual({ user_id: id, factors: [], recovery_codes_left: 0 });
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'mfa.removed', subject: id } })).toBe(1);
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'user.sessions_revoked', subject: id } })).toBe(1);
    const again = await api('DELETE', `/users/${id}/mfa`);
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ error: 'not_found', error_description: 'the user has no second factor' });

    // The next sign-in is with the password alone.
    const next = await signIn(started.config, { scope: 'openid' });
    expect(next.tokens.claims()?.amr).toEqual(['pwd']);
  });

  it('resets one factor from the CLI, which ends the sessions too', async () => {
    await enrol();
    const id = started.sample.user.id;
    const [factor] = ((await api('GET', `/users/${id}/mfa`)).body?.factors ?? []) as { id: string }[];
    const reset = await runCliInProcess(['users', 'mfa-reset', id, '--factor', factor?.id ?? '', '--json'], environment);
    expect(reset.code).toBe(0);
    expect(JSON.parse(reset.stdout)).toEqual({ id, factors_removed: 1, sessions_ended: true });
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'mfa.removed', subject: id, actor: 'cli' } })).toBe(1);
    const none = await runCliInProcess(['users', 'mfa-reset', id], environment);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('no second factor');
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'user.sessions_revoked', subject: id, actor: 'cli' } })).toBe(1);
  });

  it('sets require_mfa on a client, and refuses a value that is not a boolean', async () => {
    const id = started.sample.client.client_id;
    const wrong = await api('PATCH', `/clients/${id}`, { require_mfa: 'yes' });
    expect(wrong.status).toBe(400);
    expect(String(wrong.body?.error_description)).toContain('require_mfa');
    const set = await api('PATCH', `/clients/${id}`, { require_mfa: true });
    expect(set.status).toBe(200);
    expect(set.body?.require_mfa).toBe(true);
  });
});
