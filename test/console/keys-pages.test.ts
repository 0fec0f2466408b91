import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConsoleUser, signInToConsole, textOf } from '../support/console.js';
import { startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

describe('the console: signing keys and overview', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    started = await startWithSampleApp();
    await createConsoleUser(started.gatehouse, 'root@example.test');
    await started.gatehouse.roles.createRole({
      name: 'key-viewer',
      permissions: [{ resource: `${started.gatehouse.issuer}/admin`, scope: 'admin:keys:read' }],
    });
    await createConsoleUser(started.gatehouse, 'keys@example.test', ['key-viewer']);
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  it('lists the keys with their status and dates', async () => {
    const { page } = await signInToConsole(started.gatehouse, 'root@example.test', { path: '/console/keys' });
    const keys = await started.gatehouse.keys.list();
    for (const key of keys) expect(page.html).toContain(key.kid);
    expect(page.html).toContain('<strong>current</strong> <span class="muted">(signs tokens now)</span>');
    expect(page.html).toContain('<strong>next</strong>');
    expect(page.html).toContain('Rotate signing keys');
  });

  it('refuses a rotation while the next key is young, saying the rule plainly, and rotates once it has been published long enough', async () => {
    const { browser, page } = await signInToConsole(started.gatehouse, 'root@example.test', { path: '/console/keys' });
    const before = await started.gatehouse.keys.list();
    const refused = await browser.submit(page, '/console/keys/rotate');
    expect(refused.status).toBe(409);
    expect(textOf(refused)).toMatch(/The next key has not been published long enough; it may sign from \d{4}-/);
    expect(await started.gatehouse.keys.list()).toEqual(before);

    // The next key has been in the JWKS for two days (longer than the one-day lead).
    const next = before.find((key) => key.status === 'next');
    await started.gatehouse.prisma.signingKey.update({
      where: { kid: next?.kid },
      data: { createdAt: new Date(Date.now() - 2 * 86400_000) },
    });
    const rotated = await browser.submit(refused, '/console/keys/rotate');
    expect(rotated.status).toBe(200);
    expect(rotated.html).toContain(`Rotated: ${next?.kid} signs from now on`);
    const after = await started.gatehouse.keys.list();
    expect(after.find((key) => key.status === 'current')?.kid).toBe(next?.kid);
    const event = await started.gatehouse.prisma.event.findFirst({ where: { type: 'key.rotated' }, orderBy: { id: 'desc' } });
    expect(event?.actor).toMatch(/^user:/);
  });

  it('shows a keys:read admin the keys without the rotate button, and refuses their forged rotation', async () => {
    const { browser, page } = await signInToConsole(started.gatehouse, 'keys@example.test', { path: '/console/keys' });
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('Rotate signing keys');
    const before = await started.gatehouse.keys.list();
    // A forged form with the admin's own valid CSRF token (from the sign-out form).
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? '';
    const response = await browser.fetch(`${started.gatehouse.url}/console/keys/rotate`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }),
    });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('This needs the admin:keys:write permission');
    expect(await started.gatehouse.keys.list()).toEqual(before);
  });

  it('shows counts, the key status, recent events and warnings on the overview', async () => {
    const { page } = await signInToConsole(started.gatehouse, 'root@example.test');
    const text = textOf(page);
    const users = await started.gatehouse.prisma.user.count();
    expect(text).toContain(`<span class="stat-value">${users}</span> <span class="stat-label">Users</span>`);
    expect(text).toMatch(/<span class="stat-value">\d+<\/span> <span class="stat-label">Applications<\/span>/);
    expect(text).toMatch(/has signed for \d+ minutes?\. Next scheduled rotation: \d{4}-/);
    expect(text).toContain('console.signed_in');
    expect(text).toContain('No SMTP server is configured');
    expect(text).not.toContain('embedded database');
    expect(text).not.toContain('rotation is overdue');

    // The current key has signed for longer than the rotation interval (30 days).
    const current = (await started.gatehouse.keys.list()).find((key) => key.status === 'current');
    await started.gatehouse.prisma.signingKey.update({
      where: { kid: current?.kid },
      data: { activatedAt: new Date(Date.now() - 40 * 86400_000) },
    });
    const overdue = await signInToConsole(started.gatehouse, 'root@example.test');
    expect(textOf(overdue.page)).toContain('Key rotation is overdue');
  });

  it('shows a keys:read admin no audit events on the overview', async () => {
    const { page } = await signInToConsole(started.gatehouse, 'keys@example.test');
    expect(page.html).not.toContain('Recent activity');
  });

  it('revokes a key in an emergency after a strong confirmation: it leaves the JWKS and another key signs', async () => {
    const { browser, page } = await signInToConsole(started.gatehouse, 'root@example.test', { path: '/console/keys' });
    const current = (await started.gatehouse.keys.list()).find((key) => key.status === 'current');
    const kid = current?.kid ?? '';
    const confirm = await browser.open(`${started.gatehouse.url}/console/keys/${kid}/revoke`);
    expect(textOf(page)).toContain(`/console/keys/${kid}/revoke`);
    expect(textOf(confirm)).toContain('APIs that cached the JWKS may reject tokens signed by the new key');
    const unconfirmed = await browser.submit(confirm, '/revoke', { confirm: 'not the kid' });
    expect(unconfirmed.status).toBe(400);
    expect(unconfirmed.html).toContain('Type the key ID exactly to confirm the revocation.');
    expect((await started.gatehouse.keys.list()).find((key) => key.kid === kid)?.status).toBe('current');

    const revoked = await browser.submit(confirm, '/revoke', { confirm: kid });
    expect(revoked.status).toBe(200);
    expect(revoked.html).toContain(`Key ${kid} was revoked`);
    const after = await started.gatehouse.keys.list();
    expect(after.find((key) => key.kid === kid)?.status).toBe('revoked');
    expect(after.find((key) => key.status === 'current')?.kid).not.toBe(kid);
    const jwks = (await (await fetch(`${started.gatehouse.url}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).not.toContain(kid);
    const event = await started.gatehouse.prisma.event.findFirst({ where: { type: 'key.revoked', subject: kid } });
    expect(event?.actor).toMatch(/^user:/);
    // A second revocation of the same key is a sentence, not a 500.
    const again = await browser.fetch(`${started.gatehouse.url}/console/keys/${kid}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(revoked.html)?.[1] ?? '', confirm: kid }),
    });
    expect(again.status).toBe(409);
  });

  it('signs an admin out after the key that signed their sign-in was revoked', async () => {
    const { browser } = await signInToConsole(started.gatehouse, 'root@example.test', { path: '/console/keys' });
    const kid = (await started.gatehouse.keys.list()).find((key) => key.status === 'current')?.kid ?? '';
    const confirm = await browser.open(`${started.gatehouse.url}/console/keys/${kid}/revoke`);
    const revoked = await browser.submit(confirm, '/revoke', { confirm: kid });
    expect(revoked.html).toContain(`Key ${kid} was revoked`);
    // The console session's ID token was signed by the revoked key: the sign-out does not depend on it.
    const signedOut = await browser.submit(revoked, '/console/sign-out');
    expect(signedOut.url).toBe(`${started.gatehouse.url}/console/signed-out`);
    expect(signedOut.html).toContain('You are signed out of the Gatehouse console.');
    expect((await browser.open(`${started.gatehouse.url}/console`)).html).toContain('to continue to <strong>Gatehouse console</strong>');
  });

  it('refuses a keys:read admin’s forged revocation', async () => {
    const { browser, page } = await signInToConsole(started.gatehouse, 'keys@example.test', { path: '/console/keys' });
    expect(page.html).not.toContain('Revoke…');
    const kid = (await started.gatehouse.keys.list()).find((key) => key.status === 'current')?.kid ?? '';
    const response = await browser.fetch(`${started.gatehouse.url}/console/keys/${kid}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? '', confirm: kid }),
    });
    expect(response.status).toBe(403);
    expect((await started.gatehouse.keys.list()).find((key) => key.kid === kid)?.status).toBe('current');
  });
});
