import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from '../support/browser.js';
import { createConsoleUser, signInToConsole, textOf } from '../support/console.js';
import { API, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

describe('the console: APIs, roles and the audit log', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let admin: { browser: Browser; page: Page };
  let adminId: string;
  const open = (path: string) => admin.browser.open(`${started.gatehouse.url}${path}`);

  beforeAll(async () => {
    started = await startWithSampleApp();
    adminId = (await createConsoleUser(started.gatehouse, 'root@example.test')).id;
    admin = await signInToConsole(started.gatehouse, 'root@example.test');
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  it('creates an API with described scopes, a token lifetime and RBAC, then edits it', async () => {
    const form = await open('/console/apis/new');
    const created = await admin.browser.submit(form, '/console/apis', {
      identifier: 'https://invoices.example.test/',
      name: 'Invoices',
      scopes: 'invoices:read Read your invoices\ninvoices:write',
      access_token_ttl: '900',
      rbac: 'on',
    });
    expect(created.status).toBe(200);
    expect(created.html).toContain('Invoices was created.');
    const api = await started.gatehouse.resources.findResourceByIdentifier('https://invoices.example.test/');
    expect(api).toMatchObject({
      name: 'Invoices',
      scopes: [{ name: 'invoices:read', description: 'Read your invoices' }, { name: 'invoices:write' }],
      accessTokenTtl: 900,
      rbac: true,
    });
    const edited = await admin.browser.submit(created, `/console/apis/${api?.id}`, { name: 'Invoices API', access_token_ttl: '20' });
    expect(edited.status).toBe(400);
    expect(textOf(edited)).toContain('Token lifetime: ');
    const saved = await admin.browser.submit(created, `/console/apis/${api?.id}`, { name: 'Invoices API', rbac: [] });
    expect(saved.html).toContain('The changes were saved.');
    expect(await started.gatehouse.resources.findResourceByIdentifier('https://invoices.example.test/')).toMatchObject({
      name: 'Invoices API',
      rbac: false,
    });
    const bad = await admin.browser.submit(form, '/console/apis', { identifier: 'not a uri', name: 'Bad' });
    expect(bad.status).toBe(400);
    expect(textOf(bad)).toContain('Identifier: must be an absolute URI.');
  });

  it('keeps the built-in admin API read-only', async () => {
    const list = await open('/console/apis');
    expect(list.html).toContain('built in');
    const adminApi = await started.gatehouse.resources.findResourceByIdentifier(`${started.gatehouse.issuer}/admin`);
    const page = await open(`/console/apis/${adminApi?.id}`);
    expect(page.html).not.toContain('Save changes');
  });

  it('creates a role with API permissions and gives it to a user', async () => {
    const form = await open('/console/roles/new');
    const itemsRead = /name="perm" value="(\d+ items:read)"/.exec(form.html)?.[1] ?? '';
    const created = await admin.browser.submit(form, '/console/roles', { name: 'reader', description: 'Reads items', perm: [itemsRead] });
    expect(created.status).toBe(200);
    expect(created.html).toContain('The role reader was created.');
    expect((await started.gatehouse.roles.findRole('reader'))?.permissions).toEqual([{ resource: API, scope: 'items:read' }]);
    const taken = await admin.browser.submit(form, '/console/roles', { name: 'reader' });
    expect(taken.status).toBe(409);
    const user = await open(`/console/users/${started.sample.user.id}`);
    await admin.browser.submit(user, `/console/users/${started.sample.user.id}`, { roles: ['engineer', 'reader'] });
    expect((await started.gatehouse.users.findUserById(started.sample.user.id))?.roles.sort()).toEqual(['engineer', 'reader']);

    const temporary = await started.gatehouse.roles.createRole({ name: 'temporary' });
    const confirm = await open(`/console/roles/${temporary.id}/delete`);
    expect(confirm.html).toContain('Delete the role temporary?');
    const deleted = await admin.browser.submit(confirm, '/delete');
    expect(deleted.html).toContain('The role temporary was deleted.');
    expect(await started.gatehouse.roles.findRole('temporary')).toBeNull();
  });

  it('asks a role’s holders for two-step verification, the built-in admin role included, without touching its permissions', async () => {
    const adminRole = await started.gatehouse.roles.findRole('admin');
    const page = await open(`/console/roles/${adminRole?.id}`);
    expect(page.html).toContain('A built-in role keeps its name and permissions');
    const saved = await admin.browser.submit(page, `/console/roles/${adminRole?.id}`, { require_mfa: 'on' });
    expect(saved.status).toBe(200);
    expect(saved.html).toContain('The changes were saved.');
    const after = await started.gatehouse.roles.findRole('admin');
    expect(after?.requireMfa).toBe(true);
    expect(after?.permissions).toEqual(adminRole?.permissions);
    // Back off again so later sign-ins in this file need no second factor.
    await admin.browser.submit(saved, `/console/roles/${adminRole?.id}`, { require_mfa: [] });
    expect((await started.gatehouse.roles.findRole('admin'))?.requireMfa).toBe(false);
  });

  it('filters the audit log by type, actor, subject and time, and pages through it', async () => {
    const all = await open('/console/events');
    expect(all.html).toContain('console.signed_in');
    const byType = await open('/console/events?type=role.created');
    expect(byType.html).toContain('role.created');
    expect(byType.html).not.toContain('console.signed_in</td>');
    const byActor = await open(`/console/events?${new URLSearchParams({ actor: `user:${adminId}`, type: 'user.roles_changed' })}`);
    expect(byActor.html).toContain('user.roles_changed');
    const bySubject = await open(`/console/events?${new URLSearchParams({ subject: 'nobody' })}`);
    expect(bySubject.html).toContain('No events match.');
    const future = await open('/console/events?since=2999-01-01T00:00');
    expect(future.html).toContain('No events match.');
    const past = await open('/console/events?until=2000-01-01T00:00');
    expect(past.html).toContain('No events match.');
    const bad = await open('/console/events?since=yesterday');
    expect(bad.status).toBe(400);
    expect(textOf(bad)).toContain('From must be a date and time');
    const unknown = await open('/console/events?type=made.up');
    expect(unknown.status).toBe(400);
    // Paging: more than a page of events.
    for (let index = 0; index < 55; index += 1) {
      await started.gatehouse.prisma.event.create({ data: { type: 'user.updated', actor: 'system', subject: `s${index}`, details: {} } });
    }
    const first = await open('/console/events?type=user.updated');
    const next = /<a href="([^"]+)">Older events<\/a>/.exec(textOf(first))?.[1];
    expect(next).toContain('type=user.updated');
    const second = await open(next ?? '');
    expect(second.html).toContain('>s0<');
  });
});
