import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

type Json = Record<string, unknown>;
const ROOT = { GATEHOUSE_ADMIN_CLIENT_ID: 'root-robot', GATEHOUSE_ADMIN_CLIENT_SECRET: 'root-robot-secret-0123456789-abcdefgh' };
const INVOICES = 'https://invoices.example.test/';

describe('admin API: roles, user roles and permissions, API rbac settings, client grants', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let api: ReturnType<typeof adminClient>;
  let invoicesId: string;
  const adminApi = () => `${gatehouse.issuer}/admin`;
  const eventsOf = async (type: string) =>
    ((await api('GET', `/events?type=${type}`)).body as { data: { actor: string; subject: string; details: Json }[] }).data;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, ROOT);
    api = adminClient(gatehouse, await adminTokenForClient(gatehouse, ROOT.GATEHOUSE_ADMIN_CLIENT_ID, ROOT.GATEHOUSE_ADMIN_CLIENT_SECRET));
    const created = await api('POST', '/resources', {
      identifier: INVOICES,
      name: 'Invoices',
      scopes: ['read:invoices', 'write:invoices'],
    });
    invoicesId = String(created.body?.id);
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('creates, shows, lists, changes and deletes a role, auditing each change with its actor', async () => {
    const created = await api('POST', '/roles', {
      name: 'finance_admin',
      description: 'Finance',
      permissions: [{ resource: INVOICES, scope: 'read:invoices' }],
    });
    expect(created).toMatchObject({
      status: 201,
      body: {
        name: 'finance_admin',
        description: 'Finance',
        built_in: false,
        permissions: [{ resource: INVOICES, scope: 'read:invoices' }],
      },
    });
    const id = String(created.body?.id);
    expect((await api('GET', `/roles/${id}`)).body).toEqual(created.body);
    const listed = (await api('GET', '/roles')).body as { data: Json[] };
    expect(listed.data.map((role) => role.name).sort()).toEqual(['admin', 'finance_admin']);
    expect(listed.data.find((role) => role.name === 'admin')).toMatchObject({
      built_in: true,
      permissions: expect.arrayContaining([{ resource: adminApi(), scope: 'admin' }]),
    });

    const changed = await api('PATCH', `/roles/${id}`, {
      permissions: [
        { resource: INVOICES, scope: 'read:invoices' },
        { resource: INVOICES, scope: 'write:invoices' },
      ],
    });
    expect(changed).toMatchObject({
      status: 200,
      body: {
        permissions: [
          { resource: INVOICES, scope: 'read:invoices' },
          { resource: INVOICES, scope: 'write:invoices' },
        ],
      },
    });
    expect((await api('DELETE', `/roles/${id}`)).status).toBe(204);
    expect((await api('GET', `/roles/${id}`)).status).toBe(404);

    for (const type of ['role.created', 'role.updated', 'role.deleted']) {
      expect((await eventsOf(type))[0]).toMatchObject({ actor: `client:${ROOT.GATEHOUSE_ADMIN_CLIENT_ID}`, subject: id });
    }
  });

  it.each([
    [
      'an unknown API',
      { name: 'r1', permissions: [{ resource: 'https://nowhere.example.test/', scope: 'x' }] },
      'https://nowhere.example.test/ is not a registered API',
    ],
    [
      'a scope the API does not define',
      { name: 'r2', permissions: [{ resource: INVOICES, scope: 'delete:invoices' }] },
      'delete:invoices is not a scope of',
    ],
    ['a bad name', { name: 'has spaces' }, 'name'],
    ['an unknown field', { name: 'r3', requireMfa: true }, 'requireMfa'],
    ['a require_mfa that is not a boolean', { name: 'r6', require_mfa: 'yes' }, 'require_mfa must be true or false'],
    ['a NUL byte in the description', { name: 'r4', description: 'a\u0000b' }, 'NUL'],
    ['a lone surrogate in a permission', { name: 'r5', permissions: [{ resource: INVOICES, scope: 'read:\ud800' }] }, 'surrogate'],
  ])('refuses %s with a 400 naming it', async (_case, body, named) => {
    const answer = await api('POST', '/roles', body);
    expect(answer.status).toBe(400);
    expect(String(answer.body?.error_description)).toContain(named);
  });

  it('refuses a duplicate name (409), and deleting, renaming or re-permissioning the admin role (409)', async () => {
    await api('POST', '/roles', { name: 'clerk' });
    expect(await api('POST', '/roles', { name: 'clerk' })).toMatchObject({ status: 409, body: { error: 'role_exists' } });
    const adminRole = ((await api('GET', '/roles')).body as { data: Json[] }).data.find((role) => role.name === 'admin') as Json;
    expect(await api('DELETE', `/roles/${adminRole.id}`)).toMatchObject({ status: 409, body: { error: 'role_reserved' } });
    expect((await api('PATCH', `/roles/${adminRole.id}`, { name: 'root' })).status).toBe(409);
    expect((await api('PATCH', `/roles/${adminRole.id}`, { permissions: [] })).status).toBe(409);
    expect((await api('PATCH', `/roles/${adminRole.id}`, { description: 'The operators' })).status).toBe(200);
    expect((await api('GET', '/roles/not-a-uuid')).status).toBe(404);
  });

  it('sets, shows and clears require_mfa on a role (the admin role too), auditing who changed it from what', async () => {
    const created = await api('POST', '/roles', { name: 'treasury', require_mfa: true });
    expect(created).toMatchObject({ status: 201, body: { name: 'treasury', require_mfa: true } });
    const id = String(created.body?.id);
    expect((await api('GET', `/roles/${id}`)).body).toMatchObject({ require_mfa: true });
    expect((await eventsOf('role.created'))[0]).toMatchObject({ subject: id, details: { name: 'treasury', require_mfa: true } });

    expect(await api('PATCH', `/roles/${id}`, { require_mfa: false })).toMatchObject({ status: 200, body: { require_mfa: false } });
    expect((await eventsOf('role.updated'))[0]).toMatchObject({
      actor: `client:${ROOT.GATEHOUSE_ADMIN_CLIENT_ID}`,
      subject: id,
      details: { fields: ['require_mfa'], require_mfa: { before: true, after: false } },
    });
    expect(await api('PATCH', `/roles/${id}`, { require_mfa: 'no' })).toMatchObject({
      status: 400,
      body: { error_description: expect.stringContaining('require_mfa must be true or false') },
    });
    expect(await api('PATCH', `/roles/${id}`, { require_mfa: null })).toMatchObject({ status: 400 });
    expect((await api('GET', `/roles/${id}`)).body).toMatchObject({ require_mfa: false });
    // Not given: unchanged, and false for a new role.
    expect((await api('PATCH', `/roles/${id}`, { description: 'Money' })).body).toMatchObject({ require_mfa: false });
    expect((await api('POST', '/roles', { name: 'plain' })).body).toMatchObject({ require_mfa: false });

    const adminRole = ((await api('GET', '/roles')).body as { data: Json[] }).data.find((role) => role.name === 'admin') as Json;
    expect(adminRole.require_mfa).toBe(false);
    expect(await api('PATCH', `/roles/${adminRole.id}`, { require_mfa: true })).toMatchObject({ status: 200, body: { require_mfa: true } });
    expect(await api('PATCH', `/roles/${adminRole.id}`, { require_mfa: false })).toMatchObject({
      status: 200,
      body: { require_mfa: false },
    });
  });

  it("replaces a user's roles and shows the effective permissions by API", async () => {
    await api('POST', '/roles', { name: 'reader', permissions: [{ resource: INVOICES, scope: 'read:invoices' }] });
    await api('POST', '/roles', {
      name: 'writer',
      permissions: [
        { resource: INVOICES, scope: 'write:invoices' },
        { resource: INVOICES, scope: 'read:invoices' },
      ],
    });
    const user = (await api('POST', '/users', { email: 'fin@example.test', password: 'a long enough password' })).body as { id: string };
    expect(await api('PUT', `/users/${user.id}/roles`, { roles: ['reader', 'writer'] })).toMatchObject({
      status: 200,
      body: { user_id: user.id, roles: ['reader', 'writer'] },
    });
    expect((await api('GET', `/users/${user.id}`)).body).toMatchObject({ roles: ['reader', 'writer'] });
    expect((await api('GET', `/users/${user.id}/permissions`)).body).toEqual({
      user_id: user.id,
      permissions: { [INVOICES]: ['read:invoices', 'write:invoices'] },
    });
    expect(await api('PUT', `/users/${user.id}/roles`, { roles: ['reader', 'ghost'] })).toMatchObject({
      status: 400,
      body: { error: 'unknown_role', error_description: 'no role named ghost' },
    });
    expect((await api('GET', `/users/${user.id}`)).body).toMatchObject({ roles: ['reader', 'writer'] });
    expect((await api('PUT', '/users/00000000-0000-4000-8000-000000000000/roles', { roles: [] })).status).toBe(404);
    expect((await eventsOf('user.roles_changed'))[0]).toMatchObject({
      actor: `client:${ROOT.GATEHOUSE_ADMIN_CLIENT_ID}`,
      subject: user.id,
      details: { before: [], after: ['reader', 'writer'] },
    });
  });

  it('turns rbac and the permissions claim on for an API', async () => {
    expect((await api('GET', `/resources/${invoicesId}`)).body).toMatchObject({ rbac: 'off', permissions_claim: false });
    expect(await api('PATCH', `/resources/${invoicesId}`, { rbac: 'on', permissions_claim: true })).toMatchObject({
      status: 200,
      body: { rbac: 'on', permissions_claim: true },
    });
    expect((await api('PATCH', `/resources/${invoicesId}`, { rbac: 'yes' })).status).toBe(400);
  });

  it('grants a client APIs with api_access, checked against the registered APIs and audited as a grant change', async () => {
    const created = await api('POST', '/clients', {
      grant_types: ['client_credentials'],
      api_access: [{ resource: INVOICES, scopes: ['read:invoices'] }],
    });
    expect(created).toMatchObject({ status: 201, body: { api_access: [{ resource: INVOICES, scopes: ['read:invoices'] }] } });
    const clientId = String(created.body?.client_id);
    expect(await api('PATCH', `/clients/${clientId}`, { api_access: [{ resource: INVOICES, scopes: ['bogus'] }] })).toMatchObject({
      status: 400,
      body: { error: 'invalid_client_metadata', error_description: `api_access: bogus is not a scope of ${INVOICES}` },
    });
    expect(await api('POST', '/clients', { grant_types: ['client_credentials'], scope: 'items:read' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_client_metadata' },
    });
    expect(
      await api('POST', '/clients', {
        grant_types: ['client_credentials'],
        api_access: [{ resource: 'https://a.example/\u0000', scopes: [] }],
      }),
    ).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    expect(
      (await api('PATCH', `/clients/${clientId}`, { api_access: [{ resource: INVOICES, scopes: ['read:invoices', 'write:invoices'] }] }))
        .status,
    ).toBe(200);
    expect((await eventsOf('client.grants_changed'))[0]).toMatchObject({
      actor: `client:${ROOT.GATEHOUSE_ADMIN_CLIENT_ID}`,
      subject: clientId,
      details: {
        before: [{ resource: INVOICES, scopes: ['read:invoices'] }],
        after: [{ resource: INVOICES, scopes: ['read:invoices', 'write:invoices'] }],
      },
    });
  });

  it("removing an API's scope takes it out of roles and client grants; deleting the API takes it out entirely", async () => {
    const api2 = (await api('POST', '/resources', { identifier: 'https://temp.example.test/', name: 'Temp', scopes: ['a', 'b'] })).body as {
      id: string;
    };
    const role = (
      await api('POST', '/roles', {
        name: 'temp',
        permissions: [
          { resource: 'https://temp.example.test/', scope: 'a' },
          { resource: 'https://temp.example.test/', scope: 'b' },
        ],
      })
    ).body as { id: string };
    const client = (
      await api('POST', '/clients', {
        grant_types: ['client_credentials'],
        api_access: [
          { resource: 'https://temp.example.test/', scopes: ['a', 'b'] },
          { resource: INVOICES, scopes: [] },
        ],
      })
    ).body as { client_id: string };
    await api('PATCH', `/resources/${api2.id}`, { scopes: ['a'] });
    expect((await api('GET', `/roles/${role.id}`)).body).toMatchObject({
      permissions: [{ resource: 'https://temp.example.test/', scope: 'a' }],
    });
    expect((await api('GET', `/clients/${client.client_id}`)).body).toMatchObject({
      api_access: [
        { resource: 'https://temp.example.test/', scopes: ['a'] },
        { resource: INVOICES, scopes: [] },
      ],
    });
    expect((await api('DELETE', `/resources/${api2.id}`)).status).toBe(204);
    expect((await api('GET', `/roles/${role.id}`)).body).toMatchObject({ permissions: [] });
    expect((await api('GET', `/clients/${client.client_id}`)).body).toMatchObject({ api_access: [{ resource: INVOICES, scopes: [] }] });
  });

  it('only a full admin grants the admin role or the admin API', async () => {
    const { client_id: id, client_secret: secret } = (
      await api('POST', '/clients', {
        grant_types: ['client_credentials'],
        api_access: [{ resource: adminApi(), scopes: ['admin:users:write', 'admin:clients:write'] }],
        default_resource: adminApi(),
      })
    ).body as { client_id: string; client_secret: string };
    const limited = adminClient(gatehouse, await adminTokenForClient(gatehouse, id, secret));
    const user = (await limited('POST', '/users', { email: 'helper@example.test', password: 'a long enough password' })).body as {
      id: string;
    };
    expect(await limited('PUT', `/users/${user.id}/roles`, { roles: ['admin'] })).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope' },
    });
    expect((await limited('PUT', `/users/${user.id}/roles`, { roles: ['clerk'] })).status).toBe(200);
    const adminRole = ((await limited('GET', '/roles')).body as { data: Json[] }).data.find((role) => role.name === 'admin') as Json;
    expect((await limited('PATCH', `/roles/${adminRole.id}`, { description: 'mine' })).status).toBe(403);
    expect(
      (
        await limited('POST', '/clients', {
          grant_types: ['client_credentials'],
          api_access: [{ resource: adminApi(), scopes: ['admin:events:read'] }],
        })
      ).status,
    ).toBe(403);
    expect((await api('PUT', `/users/${user.id}/roles`, { roles: ['admin'] })).status).toBe(200);
  });

  it('documents the new routes in the OpenAPI document', async () => {
    const document = (await (await fetch(`${gatehouse.url}/admin/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/admin/roles', '/admin/roles/{id}', '/admin/users/{id}/roles', '/admin/users/{id}/permissions']),
    );
    expect(Object.keys(document.paths['/admin/users/{id}/roles'] ?? {})).toContain('put');
  });
});
