import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, findForm } from '../support/browser.js';
import { createConsoleUser, signInToConsole } from '../support/console.js';
import { withConnectionLostOnEvent } from '../support/faults.js';
import { PASSWORD, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

describe('signing in to the console (/console)', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    started = await startWithSampleApp();
    await createConsoleUser(started.gatehouse, 'root@example.test');
    await started.gatehouse.roles.createRole({
      name: 'client-viewer',
      permissions: [{ resource: `${started.gatehouse.issuer}/admin`, scope: 'admin:clients:read' }],
    });
    await createConsoleUser(started.gatehouse, 'viewer@example.test', ['client-viewer']);
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  it('sends a visitor to the login page with an S256 PKCE challenge, state and nonce, as its own client', async () => {
    const response = await new Browser().fetch(`${started.gatehouse.url}/console/applications`);
    expect(response.status).toBe(303);
    const location = new URL(response.headers.get('location') ?? '', started.gatehouse.url);
    expect(location.pathname).toBe('/auth');
    expect(location.searchParams.get('client_id')).toBe('gatehouse-console');
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(location.searchParams.get('state')).toBeTruthy();
    expect(location.searchParams.get('nonce')).toBeTruthy();
    const login = response.headers.getSetCookie().find((cookie) => cookie.startsWith('gatehouse_console_login='));
    expect(login).toContain('HttpOnly');
  });

  it('signs an admin in through the login page, without a consent page, and comes back to the page asked for', async () => {
    const { browser, page } = await signInToConsole(started.gatehouse, 'root@example.test', { path: '/console/applications' });
    expect(page.status).toBe(200);
    expect(page.url).toBe(`${started.gatehouse.url}/console/applications`);
    expect(page.html).toContain('Sample App');
    expect(browser.cookie('gatehouse_console')).toMatch(/^[\w-]{43}$/);
    // Navigation lists every area for a full admin.
    for (const area of ['Overview', 'Applications', 'Signing keys', 'Audit log']) expect(page.html).toContain(`>${area}</a>`);
    const events = await started.gatehouse.prisma.event.findMany({ where: { type: 'console.signed_in' } });
    expect(events.length).toBeGreaterThan(0);
  });

  it('sets the session cookie HttpOnly, SameSite=Strict, for /console only, and stores only its hash, without the ID token', async () => {
    const browser = new Browser();
    const login = await browser.open(`${started.gatehouse.url}/console`);
    const form = findForm(login, '/login');
    let response = await browser.fetch(new URL(form.action, login.url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, email: 'root@example.test', password: 'correct horse battery staple' }),
    });
    let sessionCookie: string | undefined;
    for (let hops = 0; hops < 10 && !sessionCookie; hops += 1) {
      const location = response.headers.get('location');
      if (!location) break;
      response = await browser.fetch(new URL(location, started.gatehouse.url).toString());
      sessionCookie = response.headers.getSetCookie().find((cookie) => cookie.startsWith('gatehouse_console='));
    }
    expect(sessionCookie).toMatch(/; Path=\/console; HttpOnly; SameSite=Strict$/);
    const token = browser.cookie('gatehouse_console') ?? '';
    const rows = await started.gatehouse.prisma.consoleSession.findMany();
    expect(rows.some((row) => row.idHash === token)).toBe(false);
    // Nor the sign-in's ID token (nothing reads it: sign-out ends the sessions server-side). Every
    // column as Postgres has it, not as the Prisma model lists it, and no value shaped like a JWT.
    const stored = await started.gatehouse.prisma.$queryRaw<{ row: Record<string, unknown> }[]>`
      SELECT to_jsonb(console_sessions) AS row FROM console_sessions`;
    expect(stored.length).toBeGreaterThan(0);
    for (const { row } of stored) {
      expect(Object.keys(row)).not.toContain('id_token');
      expect(Object.values(row).filter((value) => typeof value === 'string' && /^eyJ[\w-]*\.[\w-]+\.[\w-]*$/.test(value))).toEqual([]);
    }
  });

  it('refuses a user without admin permissions with a plain sentence, and starts no console session', async () => {
    const { browser, page } = await signInToConsole(started.gatehouse, 'ada@example.test');
    expect(page.status).toBe(403);
    expect(page.html).toContain('your account has no admin permissions');
    expect(page.html).toContain('ada@example.test');
    expect(browser.cookie('gatehouse_console')).toBeUndefined();
    const denied = await started.gatehouse.prisma.event.findMany({ where: { type: 'console.access_denied' } });
    expect(denied.map((event) => event.subject)).toContain(started.sample.user.id);
    // Asking again does not get in either.
    const again = await browser.open(`${started.gatehouse.url}/console`);
    expect(again.status).toBe(403);
  });

  it('shows an admin with a finer permission only the areas it grants', async () => {
    const { page } = await signInToConsole(started.gatehouse, 'viewer@example.test');
    expect(page.status).toBe(200);
    expect(page.html).toContain('>Applications</a>');
    expect(page.html).not.toContain('>Signing keys</a>');
    expect(page.html).not.toContain('>Users</a>');
  });

  it('refuses a sign-in that comes back with a state this browser did not send', async () => {
    const browser = new Browser();
    await browser.open(`${started.gatehouse.url}/console`);
    const page = await browser.open(`${started.gatehouse.url}/console/callback?code=abc&state=not-mine`);
    expect(page.status).toBe(400);
    expect(page.html).toContain('This sign-in did not start in this browser');
  });

  it('refuses a callback whose code the token endpoint does not accept, and starts no session', async () => {
    const browser = new Browser();
    const login = await browser.open(`${started.gatehouse.url}/console`);
    const back = await browser.submit(
      login,
      '/login',
      { email: 'root@example.test', password: 'correct horse battery staple' },
      { stopAt: `${started.gatehouse.url}/console/callback` },
    );
    const state = new URL(back.url).searchParams.get('state') ?? '';
    const page = await browser.open(`${started.gatehouse.url}/console/callback?code=forged-code&state=${state}`);
    expect(page.status).toBe(400);
    expect(page.html).toContain('the code was not accepted');
    expect(browser.cookie('gatehouse_console')).toBeUndefined();
  });

  it('refuses a form without its CSRF token and changes nothing', async () => {
    const { browser, page } = await signInToConsole(started.gatehouse, 'root@example.test', { path: '/console/keys' });
    const before = await started.gatehouse.keys.list();
    const forged = await browser.submit(page, '/console/keys/rotate', { csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect(forged.html).toContain('The form expired or did not come from this site');
    expect(await started.gatehouse.keys.list()).toEqual(before);
  });

  describe('signing out', () => {
    const gatehouseSessions = (userId: string) =>
      started.gatehouse.prisma.oidcPayload.findMany({
        where: { model: 'Session', payload: { path: ['accountId'], equals: userId } },
        select: { uid: true },
      });
    const consoleSessions = (userId: string) => started.gatehouse.prisma.consoleSession.count({ where: { userId } });
    const revocations = (userId: string) =>
      started.gatehouse.prisma.event.findMany({ where: { type: 'user.sessions_revoked', subject: userId } });

    it('ends the console session and the Gatehouse session in one step, audited, and the next visit asks for the password', async () => {
      const admin = await createConsoleUser(started.gatehouse, 'leaving-for-lunch@example.test');
      const { browser, page } = await signInToConsole(started.gatehouse, 'leaving-for-lunch@example.test');
      const token = browser.cookie('gatehouse_console');
      const [gatehouseSession] = await gatehouseSessions(admin.id);
      expect(gatehouseSession?.uid).toEqual(expect.any(String));

      const signedOut = await browser.submit(page, '/console/sign-out');
      // No confirmation page of oidc-provider's in between: straight to the console's own page.
      expect(signedOut.url).toBe(`${started.gatehouse.url}/console/signed-out`);
      expect(signedOut.html).toContain('You are signed out of the Gatehouse console.');
      expect(browser.cookie('gatehouse_console')).toBeUndefined();
      expect(await consoleSessions(admin.id)).toBe(0);
      expect(await gatehouseSessions(admin.id)).toEqual([]);
      const events = await revocations(admin.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ actor: `user:${admin.id}`, details: { removed: 1, session: gatehouseSession?.uid } });

      // The old cookie no longer opens the console.
      const replay = await fetch(`${started.gatehouse.url}/console`, {
        headers: { cookie: `gatehouse_console=${token}` },
        redirect: 'manual',
      });
      expect(replay.status).toBe(303);
      expect(replay.headers.get('location')).toMatch(/^\/auth\?/);
      // The browser still sends oidc-provider's (now stale) session cookie; the next visit needs the password again.
      const next = await browser.open(`${started.gatehouse.url}/console`);
      expect(next.html).toContain('to continue to <strong>Gatehouse console</strong>');
      expect(next.html).toContain('name="password"');
      const back = await browser.submit(next, '/login', { email: 'leaving-for-lunch@example.test', password: PASSWORD });
      expect(back.url).toBe(`${started.gatehouse.url}/console`);
    });

    it('ends only the Gatehouse session the console was signed in from, not the admin’s other browsers', async () => {
      const admin = await createConsoleUser(started.gatehouse, 'two-desks@example.test');
      const desk = await signInToConsole(started.gatehouse, 'two-desks@example.test');
      const [deskSession] = await gatehouseSessions(admin.id);
      const laptop = await signInToConsole(started.gatehouse, 'two-desks@example.test');

      await desk.browser.submit(desk.page, '/console/sign-out');
      const left = await gatehouseSessions(admin.id);
      expect(left).toHaveLength(1);
      expect(left[0]?.uid).not.toBe(deskSession?.uid);
      expect((await laptop.browser.open(`${started.gatehouse.url}/console`)).status).toBe(200);
    });

    it('ends this browser’s own Gatehouse session too when the one the console started from is gone or was not recorded', async () => {
      const admin = await createConsoleUser(started.gatehouse, 'signed-in-again@example.test');
      for (const recorded of [true, false]) {
        const { browser, page } = await signInToConsole(started.gatehouse, 'signed-in-again@example.test');
        if (recorded) {
          // Its Gatehouse session ends elsewhere; the admin signs in again in this browser (the account page): a new session.
          await started.gatehouse.prisma.oidcPayload.deleteMany({
            where: { model: 'Session', payload: { path: ['accountId'], equals: admin.id } },
          });
          const login = await browser.open(`${started.gatehouse.url}/account`);
          const account = await browser.submit(login, '/login', { email: 'signed-in-again@example.test', password: PASSWORD });
          expect(account.url).toBe(`${started.gatehouse.url}/account`);
        } else {
          // A console session from before the origin was recorded.
          await started.gatehouse.prisma.consoleSession.updateMany({ where: { userId: admin.id }, data: { sessionUid: null } });
        }
        expect(await gatehouseSessions(admin.id)).toHaveLength(1);

        const signedOut = await browser.submit(page, '/console/sign-out');
        expect(signedOut.url).toBe(`${started.gatehouse.url}/console/signed-out`);
        expect(await gatehouseSessions(admin.id)).toEqual([]);
        expect(await consoleSessions(admin.id)).toBe(0);
        expect((await browser.open(`${started.gatehouse.url}/console`)).html).toContain('name="password"');
      }
    });

    it('answers a second click, and the sign-out of an idle console session, with the signed-out page', async () => {
      const admin = await createConsoleUser(started.gatehouse, 'idle-leaver@example.test');
      const { browser, page } = await signInToConsole(started.gatehouse, 'idle-leaver@example.test');
      // The idle deadline passed while the page stayed open: the click still signs out of Gatehouse.
      await started.gatehouse.prisma.consoleSession.updateMany({
        where: { userId: admin.id },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      const first = await browser.submit(page, '/console/sign-out');
      expect(first.url).toBe(`${started.gatehouse.url}/console/signed-out`);
      expect(await gatehouseSessions(admin.id)).toEqual([]);
      expect(await consoleSessions(admin.id)).toBe(0);

      const second = await browser.submit(page, '/console/sign-out');
      expect(second.status).toBe(200);
      expect(second.url).toBe(`${started.gatehouse.url}/console/signed-out`);
      // And with the cookie still there but its session gone (another tab signed out first).
      const other = await signInToConsole(started.gatehouse, 'idle-leaver@example.test');
      const cookie = other.browser.cookie('gatehouse_console') ?? '';
      await started.gatehouse.prisma.consoleSession.deleteMany({ where: { userId: admin.id } });
      const stale = await other.browser.submit(other.page, '/console/sign-out');
      expect(stale.url).toBe(`${started.gatehouse.url}/console/signed-out`);
      expect(cookie).toMatch(/^[\w-]{43}$/);
      expect(await revocations(admin.id)).toHaveLength(1);
    });

    it('refuses a sign-out without its CSRF token and ends nothing', async () => {
      const admin = await createConsoleUser(started.gatehouse, 'targeted@example.test');
      const { browser, page } = await signInToConsole(started.gatehouse, 'targeted@example.test');
      for (const csrf of ['forged', '']) {
        const forged = await browser.submit(page, '/console/sign-out', { csrf });
        expect(forged.status).toBe(403);
        expect(forged.html).toContain('The form expired or did not come from this site');
      }
      expect(await consoleSessions(admin.id)).toBe(1);
      expect(await gatehouseSessions(admin.id)).toHaveLength(1);
      expect(await revocations(admin.id)).toEqual([]);
      expect((await browser.open(`${started.gatehouse.url}/console`)).status).toBe(200);
      // Idle by now: still refused, with the plain page, and the Gatehouse session stays.
      await started.gatehouse.prisma.consoleSession.updateMany({
        where: { userId: admin.id },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      const idle = await browser.submit(page, '/console/sign-out', { csrf: 'forged' });
      expect(idle.status).toBe(403);
      expect(idle.html).toContain('The form expired or did not come from this site');
      expect(await gatehouseSessions(admin.id)).toHaveLength(1);
    });

    it('ends neither session when the database fails mid-sign-out, says so in a sentence, and signs out on the next try', async () => {
      const admin = await createConsoleUser(started.gatehouse, 'unlucky@example.test');
      const { browser, page } = await signInToConsole(started.gatehouse, 'unlucky@example.test');
      // The connection is lost as the audit event is written: after both sessions' rows were deleted in the transaction.
      const failed = await withConnectionLostOnEvent(started.gatehouse.prisma, 'user.sessions_revoked', () =>
        browser.submit(page, '/console/sign-out'),
      );
      expect(failed.status).toBe(503);
      expect(failed.html).toContain('you are still signed in. Please try again.');
      expect(browser.cookie('gatehouse_console')).toMatch(/^[\w-]{43}$/);
      expect(await consoleSessions(admin.id)).toBe(1);
      expect(await gatehouseSessions(admin.id)).toHaveLength(1);
      expect(await revocations(admin.id)).toEqual([]);
      expect((await browser.open(`${started.gatehouse.url}/console`)).status).toBe(200);

      const signedOut = await browser.submit(page, '/console/sign-out');
      expect(signedOut.url).toBe(`${started.gatehouse.url}/console/signed-out`);
      expect(await consoleSessions(admin.id)).toBe(0);
      expect(await gatehouseSessions(admin.id)).toEqual([]);
      expect(await revocations(admin.id)).toHaveLength(1);
    });
  });

  it('asks to sign in again after the idle timeout, and deletes the idle session', async () => {
    const user = await createConsoleUser(started.gatehouse, 'idle@example.test');
    const { browser } = await signInToConsole(started.gatehouse, 'idle@example.test');
    // Time passes: the session's idle deadline is behind us.
    await started.gatehouse.prisma.consoleSession.updateMany({
      where: { userId: user?.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const response = await browser.fetch(`${started.gatehouse.url}/console`);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/auth\?/);
    expect(await started.gatehouse.prisma.consoleSession.count({ where: { userId: user?.id } })).toBe(0);
  });

  it('moves the idle deadline on with each request', async () => {
    const user = await createConsoleUser(started.gatehouse, 'busy@example.test');
    const { browser } = await signInToConsole(started.gatehouse, 'busy@example.test');
    const soon = new Date(Date.now() + 60_000); // still live when the request comes, however slow the machine
    await started.gatehouse.prisma.consoleSession.updateMany({ where: { userId: user?.id }, data: { expiresAt: soon } });
    expect((await browser.open(`${started.gatehouse.url}/console`)).status).toBe(200);
    const rows = await started.gatehouse.prisma.consoleSession.findMany({ where: { userId: user?.id } });
    // The default idle timeout is 30 minutes.
    expect(rows[0]?.expiresAt.getTime()).toBeGreaterThan(soon.getTime() + 20 * 60 * 1000);
  });

  it('lets a disabled admin go at the next request', async () => {
    const admin = await createConsoleUser(started.gatehouse, 'leaving@example.test');
    const { browser } = await signInToConsole(started.gatehouse, 'leaving@example.test');
    await started.gatehouse.users.updateUser(admin.id, { disabled: true });
    const response = await browser.fetch(`${started.gatehouse.url}/console`);
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/auth\?/);
  });
});
