import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../support/browser.js';
import { createConsoleUser, signInToConsole, textOf } from '../support/console.js';
import { linkIn, startMailServer } from '../support/mail.js';
import { withConnectionLostOnEvent } from '../support/faults.js';
import { enrolTotpOnAccountPage, totpCode } from '../support/mfa.js';
import { PASSWORD, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

describe('the console: users', () => {
  let mail: Awaited<ReturnType<typeof startMailServer>>;
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let admin: { browser: Browser; page: Page };
  const url = () => started.gatehouse.url;
  const open = (path: string) => admin.browser.open(`${url()}${path}`);

  beforeAll(async () => {
    mail = await startMailServer();
    started = await startWithSampleApp({ GATEHOUSE_SMTP_URL: mail.url });
    await createConsoleUser(started.gatehouse, 'root@example.test');
    await started.gatehouse.roles.createRole({
      name: 'user-manager',
      permissions: [{ resource: `${started.gatehouse.issuer}/admin`, scope: 'admin:users:write' }],
    });
    await createConsoleUser(started.gatehouse, 'manager@example.test', ['user-manager']);
    admin = await signInToConsole(started.gatehouse, 'root@example.test');
  });
  afterAll(async () => {
    await stopAndDrop(started?.gatehouse, started?.databaseUrl);
    await mail?.close();
  });

  it('lists users and finds them by part of the email or name, any case', async () => {
    const list = await open('/console/users');
    expect(list.html).toContain('ada@example.test');
    expect(list.html).toContain('root@example.test');
    const found = await open('/console/users?search=LOVELACE');
    expect(found.html).toContain('ada@example.test');
    expect(found.html).not.toContain('root@example.test');
  });

  it('creates a user without a password and emails them a link to choose one', async () => {
    const form = await open('/console/users/new');
    const created = await admin.browser.submit(form, '/console/users', {
      email: 'grace@example.test',
      name: 'Grace Hopper',
      roles: 'engineer',
    });
    expect(created.status).toBe(200);
    expect(created.html).toContain('grace@example.test was created and was sent a link to choose a password.');
    const user = await started.gatehouse.users.findUserByEmail('grace@example.test');
    expect(user).toMatchObject({ name: 'Grace Hopper', roles: ['engineer'] });
    const message = await mail.nextMessage();
    expect(message.to && 'text' in message.to ? message.to.text : '').toContain('grace@example.test');
    expect(linkIn(message, `${started.gatehouse.issuer}/reset-password`)).toBeTruthy();
    const event = await started.gatehouse.prisma.event.findFirst({ where: { type: 'user.created', subject: user?.id } });
    expect(event?.actor).toMatch(/^user:/);
    const sent = await started.gatehouse.prisma.event.findFirst({ where: { type: 'user.password_reset_sent', subject: user?.id } });
    expect(sent).toMatchObject({ actor: event?.actor, details: { new_user: true } });
    expect(sent?.requestId).toEqual(expect.any(String));
  });

  it('audits a reset link an admin sends as user.password_reset_sent: the admin, the user, the request and the IP', async () => {
    const user = await started.gatehouse.users.createUser({ email: 'reset@example.test', password: PASSWORD });
    const root = await started.gatehouse.users.findUserByEmail('root@example.test');
    const page = await open(`/console/users/${user.id}`);
    const linked = await admin.browser.submit(page, '/reset-link');
    expect(linked.html).toContain('A password reset link was sent to reset@example.test.');
    expect(linkIn(await mail.nextMessage(), `${started.gatehouse.issuer}/reset-password`)).toBeTruthy();
    const events = await started.gatehouse.prisma.event.findMany({ where: { type: 'user.password_reset_sent', subject: user.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: `user:${root?.id}`, clientIp: expect.any(String), requestId: expect.any(String) });
  });

  it('refuses a weak password and a taken email with sentences, keeping what was typed', async () => {
    const form = await open('/console/users/new');
    const weak = await admin.browser.submit(form, '/console/users', { email: 'weak@example.test', password: 'password1234' });
    expect(weak.status).toBe(400);
    expect(textOf(weak)).toMatch(/Password[^<]*too easy to guess/i);
    expect(weak.html).toContain('value="weak@example.test"');
    const taken = await admin.browser.submit(form, '/console/users', { email: 'ada@example.test', password: 'a calm new passphrase' });
    expect(taken.status).toBe(409);
    expect(await started.gatehouse.users.findUserByEmail('weak@example.test')).toBeNull();
  });

  it('edits name, email and roles, and disables and enables a user', async () => {
    const user = await started.gatehouse.users.createUser({ email: 'edit@example.test', password: PASSWORD, name: 'Edith' });
    const page = await open(`/console/users/${user.id}`);
    const saved = await admin.browser.submit(page, `/console/users/${user.id}`, {
      name: 'Edith Clarke',
      email: 'edith@example.test',
      roles: ['engineer'],
    });
    expect(saved.html).toContain('The changes were saved.');
    expect(await started.gatehouse.users.findUserById(user.id)).toMatchObject({
      name: 'Edith Clarke',
      email: 'edith@example.test',
      roles: ['engineer'],
    });
    const disabled = await admin.browser.submit(saved, '/disable');
    expect(disabled.html).toContain('edith@example.test is disabled');
    expect((await started.gatehouse.users.findUserById(user.id))?.disabled).toBe(true);
    const enabled = await admin.browser.submit(disabled, '/enable');
    expect(enabled.html).toContain('edith@example.test can sign in again.');
    expect((await started.gatehouse.users.findUserById(user.id))?.disabled).toBe(false);
  });

  it('shows a user’s sessions and ends one, sends a reset link, and resets their second factors', async () => {
    const browser = new Browser();
    browser.headers['user-agent'] = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
    const login = await browser.open(`${url()}/account`);
    const account = await browser.submit(login, '/login', { email: 'ada@example.test', password: PASSWORD });
    await enrolTotpOnAccountPage(browser, account);

    const page = await open(`/console/users/${started.sample.user.id}`);
    expect(page.html).toContain('Firefox on Linux');
    expect(page.html).toContain('Authenticator app');
    const reset = await admin.browser.submit(page, '/mfa/reset');
    expect(reset.html).toContain('The second factors of ada@example.test were removed');
    expect(reset.html).toContain('No second factor is set up.');
    const event = await started.gatehouse.prisma.event.findFirst({ where: { type: 'mfa.removed', subject: started.sample.user.id } });
    expect(event?.actor).toMatch(/^user:/);

    const again = await browser.open(`${url()}/account`);
    await browser.submit(again, '/login', { email: 'ada@example.test', password: PASSWORD });
    const withSession = await open(`/console/users/${started.sample.user.id}`);
    expect(withSession.html).toContain('Firefox on Linux');
    const ended = await admin.browser.submit(withSession, '/sessions/end');
    expect(ended.html).toContain('That session was signed out.');
    expect((await browser.open(`${url()}/account`)).html).toContain('to continue to <strong>Your account</strong>');
    const endedEvent = await started.gatehouse.prisma.event.findFirst({
      where: { type: 'user.sessions_revoked', subject: started.sample.user.id },
      orderBy: { id: 'desc' },
    });
    expect(endedEvent?.actor).toMatch(/^user:/);
    expect(endedEvent?.details).toMatchObject({ removed: 1, session: expect.any(String) });

    const linked = await admin.browser.submit(ended, '/reset-link');
    expect(linked.html).toContain('A password reset link was sent to ada@example.test.');
    expect(linkIn(await mail.nextMessage(), `${started.gatehouse.issuer}/reset-password`)).toBeTruthy();
  });

  it('ends a session and audits it in one transaction: a connection lost between the two leaves the session and no event', async () => {
    const user = await started.gatehouse.users.createUser({ email: 'fault@example.test', password: PASSWORD });
    const browser = new Browser();
    await browser.submit(await browser.open(`${url()}/account`), '/login', { email: 'fault@example.test', password: PASSWORD });
    const revoked = () => started.gatehouse.prisma.event.count({ where: { type: 'user.sessions_revoked', subject: user.id } });

    const page = await open(`/console/users/${user.id}`);
    const failed = await withConnectionLostOnEvent(started.gatehouse.prisma, 'user.sessions_revoked', () =>
      admin.browser.submit(page, '/sessions/end'),
    );
    expect(failed.status).toBe(503);
    expect(await revoked()).toBe(0);
    expect(
      await started.gatehouse.prisma.oidcPayload.count({ where: { model: 'Session', payload: { path: ['accountId'], equals: user.id } } }),
    ).toBe(1);
    expect((await browser.open(`${url()}/account`)).url).toBe(`${url()}/account`);

    // Once the database is back, the same action ends it and records it.
    const ended = await admin.browser.submit(await open(`/console/users/${user.id}`), '/sessions/end');
    expect(ended.html).toContain('That session was signed out.');
    expect(await revoked()).toBe(1);
    expect((await browser.open(`${url()}/account`)).html).toContain('to continue to <strong>Your account</strong>');
  });

  it('shows a throttled user’s failed sign-ins and unlocks them, as POST /admin/users/:id/unlock does', async () => {
    const user = await started.gatehouse.users.createUser({ email: 'locked@example.test', password: PASSWORD });
    const browser = new Browser();
    let login = await browser.open(`${url()}/account`);
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      login = await browser.submit(login, '/login', { email: 'locked@example.test', password: `wrong password ${attempt}` });
    }
    const page = await open(`/console/users/${user.id}`);
    expect(textOf(page)).toContain('3 failed sign-ins');
    const unlocked = await admin.browser.submit(page, '/unlock');
    expect(unlocked.status).toBe(200);
    expect(unlocked.html).toContain('locked@example.test can sign in again at once.');
    expect(textOf(unlocked)).toContain('No failed sign-ins.');
    const event = await started.gatehouse.prisma.event.findFirst({ where: { type: 'user.unlocked', subject: user.id } });
    expect(event?.actor).toMatch(/^user:/);
    const signedIn = await browser.submit(await browser.open(`${url()}/account`), '/login', {
      email: 'locked@example.test',
      password: PASSWORD,
    });
    expect(signedIn.status).toBe(200);
    expect(signedIn.url).toContain('/account');
  });

  it('shows wrong second-factor codes and the recent second-factor failures, and unlocks them too', async () => {
    const user = await started.gatehouse.users.createUser({ email: 'codes@example.test', password: PASSWORD });
    const owner = new Browser();
    const account = await owner.submit(await owner.open(`${url()}/account`), '/login', { email: 'codes@example.test', password: PASSWORD });
    const { secret } = await enrolTotpOnAccountPage(owner, account);
    const browser = new Browser();
    const codePage = await browser.submit(await browser.open(`${url()}/account`), '/login', {
      email: 'codes@example.test',
      password: PASSWORD,
    });
    expect((await browser.submit(codePage, '/mfa', { code: await totpCode(secret, 20) })).status).toBe(401);

    const page = await open(`/console/users/${user.id}`);
    expect(textOf(page)).toContain('1 wrong second-factor codes in a row.');
    expect(textOf(page)).not.toContain('No failed sign-ins.');
    expect(textOf(page)).toMatch(/Authenticator app code not accepted/);
    const unlocked = await admin.browser.submit(page, '/unlock');
    expect(textOf(unlocked)).toContain('No failed sign-ins.');
    // The history stays after the counters are cleared.
    expect(textOf(unlocked)).toMatch(/Authenticator app code not accepted/);
  });

  it('refuses an unlock forged by an admin who may only read users', async () => {
    await started.gatehouse.roles.createRole({
      name: 'user-reader',
      permissions: [{ resource: `${started.gatehouse.issuer}/admin`, scope: 'admin:users:read' }],
    });
    await createConsoleUser(started.gatehouse, 'reader@example.test', ['user-reader']);
    const reader = await signInToConsole(started.gatehouse, 'reader@example.test', { path: '/console/users' });
    const page = await reader.browser.open(`${url()}/console/users/${started.sample.user.id}`);
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('/unlock');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? '';
    expect(csrf).not.toBe('');
    const forged = await reader.browser.open(`${url()}/console/users/${started.sample.user.id}/unlock`, {
      init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf }) },
    });
    expect(forged.status).toBe(403);
    expect(await started.gatehouse.prisma.event.count({ where: { type: 'user.unlocked', subject: started.sample.user.id } })).toBe(0);
  });

  it('deletes a user after a confirmation page that names them', async () => {
    const user = await started.gatehouse.users.createUser({ email: 'gone@example.test', password: PASSWORD });
    const confirm = await open(`/console/users/${user.id}/delete`);
    expect(confirm.html).toContain('Delete gone@example.test?');
    const deleted = await admin.browser.submit(confirm, '/delete');
    expect(deleted.html).toContain('gone@example.test was deleted.');
    expect(await started.gatehouse.users.findUserById(user.id)).toBeNull();
  });

  it('keeps admins out of reach of an admin:users:write admin, as the admin API does', async () => {
    const manager = await signInToConsole(started.gatehouse, 'manager@example.test', { path: '/console/users' });
    expect(manager.page.status).toBe(200);
    const root = await started.gatehouse.users.findUserByEmail('root@example.test');
    const page = await manager.browser.open(`${url()}/console/users/${root?.id}`);
    const refused = await manager.browser.submit(page, '/disable');
    expect(refused.status).toBe(403);
    expect(textOf(refused)).toContain('Changing an admin user or the admin role needs the scope admin.');
    expect((await started.gatehouse.users.findUserById(root?.id ?? ''))?.disabled).toBe(false);
    const link = await manager.browser.submit(page, '/reset-link');
    expect(link.status).toBe(403);
    // A user who is not an admin is theirs to change, but not to make one.
    const promoted = await manager.browser.submit(
      await manager.browser.open(`${url()}/console/users/${started.sample.user.id}`),
      `/console/users/${started.sample.user.id}`,
      {
        roles: ['engineer', 'admin'],
      },
    );
    expect(promoted.status).toBe(403);
    expect((await started.gatehouse.users.findUserById(started.sample.user.id))?.roles).not.toContain('admin');
  });
});
