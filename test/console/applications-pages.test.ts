import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from '../support/browser.js';
import { basicAuth } from '../support/engine.js';
import { createConsoleUser, signInToConsole, textOf } from '../support/console.js';
import { API, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

/** What the token endpoint says to these credentials: invalid_client when the secret is wrong. */
async function tokenEndpointVerdict(url: string, clientId: string, secret: string): Promise<string> {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: 'https://app.example.test/cb' }),
  });
  return ((await response.json()) as { error: string }).error;
}

const shown = (page: Page, id: string) => new RegExp(`<code id="${id}">([^<]+)</code>`).exec(page.html)?.[1] ?? '';

describe('the console: applications', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let admin: { browser: Browser; page: Page };
  let adminId: string;
  const url = () => started.gatehouse.url;

  beforeAll(async () => {
    started = await startWithSampleApp();
    adminId = (await createConsoleUser(started.gatehouse, 'root@example.test')).id;
    await started.gatehouse.roles.createRole({
      name: 'client-viewer',
      permissions: [{ resource: `${started.gatehouse.issuer}/admin`, scope: 'admin:clients:read' }],
    });
    await createConsoleUser(started.gatehouse, 'viewer@example.test', ['client-viewer']);
    admin = await signInToConsole(started.gatehouse, 'root@example.test');
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  const open = (path: string) => admin.browser.open(`${url()}${path}`);

  it('lists applications and finds them by part of the name or client ID, any case', async () => {
    const list = await open('/console/applications');
    expect(list.html).toContain('Sample App');
    expect(list.html).toContain('gatehouse-console');
    const found = await open('/console/applications?search=sAMPLE');
    expect(found.html).toContain('Sample App');
    expect(found.html).not.toContain('gatehouse-console');
    const byId = await open(`/console/applications?search=${started.sample.client.client_id.slice(2, 10)}`);
    expect(byId.html).toContain('Sample App');
    const none = await open('/console/applications?search=%25nothing_');
    expect(none.html).toContain('No application matches “%nothing_”.');
  });

  it('creates a web application: the secret is shown once, works at the token endpoint, and the event names the admin', async () => {
    const form = await open('/console/applications/new?type=web');
    expect(form.html).toContain('A server-side app');
    const created = await admin.browser.submit(form, '/console/applications', {
      type: 'web',
      client_name: 'Billing portal',
      redirect_uris: 'https://billing.example.test/callback\r\n\r\nhttps://billing.example.test/alt',
      post_logout_redirect_uris: 'https://billing.example.test/',
    });
    expect(created.status).toBe(200);
    expect(created.html).toContain('it is shown only this once');
    expect(created.html).toContain('data-copy="client-secret"');
    const clientId = shown(created, 'client-id');
    const secret = shown(created, 'client-secret');
    const client = await started.gatehouse.clients.getClient(clientId);
    expect(client).toMatchObject({
      client_name: 'Billing portal',
      redirect_uris: ['https://billing.example.test/callback', 'https://billing.example.test/alt'],
      post_logout_redirect_uris: ['https://billing.example.test/'],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(await tokenEndpointVerdict(url(), clientId, secret)).toBe('invalid_grant');
    expect(await tokenEndpointVerdict(url(), clientId, `${secret}x`)).toBe('invalid_client');
    const event = await started.gatehouse.prisma.event.findFirst({ where: { type: 'client.created', subject: clientId } });
    expect(event?.actor).toBe(`user:${adminId}`);
    // Shown once: the application's page has no secret.
    const settings = await open(`/console/applications/${clientId}`);
    expect(settings.html).not.toContain(secret);
  });

  it('creates each other type with its defaults', async () => {
    const form = await open('/console/applications/new');
    const make = async (values: Record<string, string>) => {
      const page = await admin.browser.submit(form, '/console/applications', values);
      expect(page.status).toBe(200);
      return { page, client: await started.gatehouse.clients.getClient(shown(page, 'client-id')) };
    };
    const spa = await make({ type: 'spa', client_name: 'Dashboard', redirect_uris: 'http://localhost:5173/callback' });
    expect(spa.client).toMatchObject({ token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
    expect(spa.page.html).toContain('This is a public client: it has no secret');
    const native = await make({ type: 'native', client_name: 'Phone app', redirect_uris: 'com.example.app:/callback' });
    expect(native.client).toMatchObject({ application_type: 'native', token_endpoint_auth_method: 'none' });
    const service = await make({ type: 'service', client_name: 'Nightly export', redirect_uris: 'ignored' });
    expect(service.client).toMatchObject({
      grant_types: ['client_credentials'],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(service.page.html).toContain('client-secret');
    const device = await make({ type: 'device', client_name: 'Living-room TV' });
    expect(device.client).toMatchObject({
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    });
  });

  it('refuses a bad redirect URI with a sentence naming the field, and keeps what was typed', async () => {
    const form = await open('/console/applications/new');
    const before = await started.gatehouse.prisma.client.count();
    const refused = await admin.browser.submit(form, '/console/applications', {
      type: 'web',
      client_name: 'Careless app',
      redirect_uris: 'http://careless.example.test/cb',
    });
    expect(refused.status).toBe(400);
    expect(textOf(refused)).toContain('Redirect URIs: http://careless.example.test/cb must use https (http is allowed for loopback only).');
    expect(refused.html).toContain('value="Careless app"');
    expect(textOf(refused)).toContain('http://careless.example.test/cb</textarea>');
    expect(await started.gatehouse.prisma.client.count()).toBe(before);
    const empty = await admin.browser.submit(form, '/console/applications', { type: 'web', client_name: 'No URIs' });
    expect(empty.status).toBe(400);
    expect(textOf(empty)).toContain('Redirect URIs: at least one redirect URI is required');
  });

  it('edits redirect and logout URIs, grants, API access and policies', async () => {
    const id = started.sample.client.client_id;
    const page = await open(`/console/applications/${id}`);
    expect(page.html).toContain('Items API');
    const saved = await admin.browser.submit(page, `/console/applications/${id}`, {
      redirect_uris: 'http://127.0.0.1:8765/callback\nhttps://sample.example.test/callback',
      post_logout_redirect_uris: 'https://sample.example.test/bye',
      first_party: 'on',
    });
    expect(saved.status).toBe(200);
    expect(saved.html).toContain('The changes were saved.');
    const client = await started.gatehouse.clients.getClient(id);
    expect(client?.redirect_uris).toEqual(['http://127.0.0.1:8765/callback', 'https://sample.example.test/callback']);
    expect(client?.post_logout_redirect_uris).toEqual(['https://sample.example.test/bye']);
    expect(client?.first_party).toBe(true);
    // The checked API scopes were kept (the form posts what is checked).
    expect(client?.api_access).toEqual([{ resource: API, scopes: ['items:read', 'items:write'] }]);
    const event = await started.gatehouse.prisma.event.findFirst({
      where: { type: 'client.updated', subject: id },
      orderBy: { id: 'desc' },
    });
    expect(event?.actor).toBe(`user:${adminId}`);

    // Unchecking a scope takes it away; a bad URI is a sentence and changes nothing.
    const itemsField = /name="(api_\d+)" value="items:read"/.exec(saved.html)?.[1] ?? '';
    const narrowed = await admin.browser.submit(saved, `/console/applications/${id}`, { [itemsField]: 'items:read' });
    expect(narrowed.status).toBe(200);
    expect((await started.gatehouse.clients.getClient(id))?.api_access).toEqual([{ resource: API, scopes: ['items:read'] }]);
    const refused = await admin.browser.submit(narrowed, `/console/applications/${id}`, { redirect_uris: 'not a uri' });
    expect(refused.status).toBe(400);
    expect(textOf(refused)).toContain('Redirect URIs: not a uri is not an absolute URI.');
    expect((await started.gatehouse.clients.getClient(id))?.redirect_uris).toHaveLength(2);
  });

  it('says on the edit form that emptying an optional field removes it, and removes it', async () => {
    const form = await open('/console/applications/new?type=web');
    const created = await admin.browser.submit(form, '/console/applications', {
      type: 'web',
      client_name: 'Logs out',
      redirect_uris: 'https://logs-out.example.test/callback',
    });
    const id = shown(created, 'client-id');
    const page = await open(`/console/applications/${id}`);
    const withUri = await admin.browser.submit(page, `/console/applications/${id}`, {
      backchannel_logout_uri: 'https://logs-out.example.test/backchannel',
    });
    expect(withUri.html).toContain('The changes were saved.');
    expect((await started.gatehouse.clients.getClient(id))?.backchannel_logout_uri).toBe('https://logs-out.example.test/backchannel');
    expect(textOf(withUri)).toContain('Empty a field marked optional to remove it');
    const emptied = await admin.browser.submit(withUri, `/console/applications/${id}`, { backchannel_logout_uri: '', client_name: '' });
    expect(emptied.status).toBe(200);
    expect(emptied.html).toContain('The changes were saved.');
    const client = await started.gatehouse.clients.getClient(id);
    expect(client?.backchannel_logout_uri).toBeUndefined();
    expect(client?.client_name).toBeUndefined();
    expect(client?.redirect_uris).toEqual(['https://logs-out.example.test/callback']);
  });

  it('refuses to save with every OpenID scope unchecked, rather than fall back to the wider default scopes', async () => {
    const form = await open('/console/applications/new?type=web');
    const created = await admin.browser.submit(form, '/console/applications', {
      type: 'web',
      client_name: 'Narrow',
      redirect_uris: 'https://narrow.example.test/callback',
    });
    const id = shown(created, 'client-id');
    const page = await open(`/console/applications/${id}`);
    const narrowed = await admin.browser.submit(page, `/console/applications/${id}`, { scope: 'openid' });
    expect(narrowed.html).toContain('The changes were saved.');
    expect((await started.gatehouse.clients.getClient(id))?.scope).toBe('openid');
    const none = await admin.browser.submit(narrowed, `/console/applications/${id}`, { scope: [] });
    expect(none.status).toBe(400);
    expect(textOf(none)).toContain('OpenID scopes: check at least one');
    expect((await started.gatehouse.clients.getClient(id))?.scope).toBe('openid');
  });

  it('rotates the secret: the new one is shown once and works, the old one stops', async () => {
    const form = await open('/console/applications/new');
    const created = await admin.browser.submit(form, '/console/applications', {
      type: 'web',
      client_name: 'Rotating app',
      redirect_uris: 'https://rotating.example.test/cb',
    });
    const clientId = shown(created, 'client-id');
    const oldSecret = shown(created, 'client-secret');
    const settings = await open(`/console/applications/${clientId}`);
    expect(settings.html).toContain('data-confirm="Issue a new secret for Rotating app?');
    const rotated = await admin.browser.submit(settings, '/secret');
    expect(rotated.html).toContain('A new secret was issued. The old one no longer works.');
    const newSecret = shown(rotated, 'client-secret');
    expect(newSecret).not.toBe(oldSecret);
    expect(await tokenEndpointVerdict(url(), clientId, newSecret)).toBe('invalid_grant');
    expect(await tokenEndpointVerdict(url(), clientId, oldSecret)).toBe('invalid_client');
  });

  it('deletes after a confirmation page that names the client', async () => {
    const form = await open('/console/applications/new');
    const created = await admin.browser.submit(form, '/console/applications', { type: 'device', client_name: 'Old TV' });
    const clientId = shown(created, 'client-id');
    const confirm = await open(`/console/applications/${clientId}/delete`);
    expect(confirm.html).toContain('Delete Old TV?');
    expect(confirm.html).toContain(clientId);
    const deleted = await admin.browser.submit(confirm, '/delete');
    expect(deleted.html).toContain(`Old TV (${clientId}) was deleted.`);
    expect(await started.gatehouse.clients.getClient(clientId)).toBeNull();
    const gone = await open(`/console/applications/${clientId}`);
    expect(gone.status).toBe(404);
    expect(gone.html).toContain(`No client ${clientId}.`);
  });

  it('shows an admin:clients:read admin the applications without edit buttons, and refuses their forged POSTs', async () => {
    const viewer = await signInToConsole(started.gatehouse, 'viewer@example.test', { path: '/console/applications' });
    expect(viewer.page.html).toContain('Sample App');
    expect(viewer.page.html).not.toContain('New application');
    const id = started.sample.client.client_id;
    const page = await viewer.browser.open(`${url()}/console/applications/${id}`);
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('Save changes');
    expect(page.html).not.toContain('Rotate secret');
    expect(page.html).not.toContain('Delete application');
    expect(page.html).toContain('changing it needs the admin:clients:write permission');
    // A forged form with the viewer's own valid CSRF token (from the sign-out form).
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? '';
    const forge = (path: string, body: Record<string, string>) =>
      viewer.browser.fetch(`${url()}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, ...body }),
      });
    const deleted = await forge(`/console/applications/${id}/delete`, {});
    expect(deleted.status).toBe(403);
    expect(await deleted.text()).toContain('This needs the admin:clients:write permission (or admin), which your roles do not grant.');
    expect(await started.gatehouse.clients.getClient(id)).not.toBeNull();
    expect(
      (await forge('/console/applications', { type: 'web', client_name: 'Sneaky', redirect_uris: 'https://x.example.test/cb' })).status,
    ).toBe(403);
    expect((await forge(`/console/applications/${id}/secret`, {})).status).toBe(403);
    expect((await forge(`/console/applications/${id}`, { redirect_uris: 'https://evil.example.test/cb' })).status).toBe(403);
    expect((await started.gatehouse.clients.getClient(id))?.redirect_uris).not.toContain('https://evil.example.test/cb');
    // The keys area is not theirs at all.
    expect((await viewer.browser.open(`${url()}/console/keys`)).status).toBe(403);
  });

  it('shows the console’s own client read-only and refuses to change it, so the console cannot lock itself out', async () => {
    const page = await open('/console/applications/gatehouse-console');
    expect(page.status).toBe(200);
    expect(page.html).not.toContain('Save changes');
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)?.[1] ?? '';
    const response = await admin.browser.fetch(`${url()}/console/applications/gatehouse-console/delete`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf }),
    });
    expect(response.status).toBe(403);
    expect(await started.gatehouse.clients.getClient('gatehouse-console')).not.toBeNull();
  });
});
