import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient, adminTokenForUser } from '../support/admin.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

const ROOT = { GATEHOUSE_ADMIN_CLIENT_ID: 'root-robot', GATEHOUSE_ADMIN_CLIENT_SECRET: 'root-robot-secret-0123456789-abcdefgh' };

/** Review findings: a finer admin scope must not lead to full admin, and a dead token must not work. */
describe('admin API privileges', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let root: ReturnType<typeof adminClient>;
  const adminApi = () => `${gatehouse.issuer}/admin`;

  /** A service with exactly these admin scopes, registered by root. */
  const serviceWith = async (scope: string) => {
    const created = (
      await root('POST', '/clients', {
        grant_types: ['client_credentials'],
        api_access: [{ resource: adminApi(), scopes: scope.split(' ') }],
        default_resource: adminApi(),
      })
    ).body as { client_id: string; client_secret: string };
    return { ...created, api: adminClient(gatehouse, await adminTokenForClient(gatehouse, created.client_id, created.client_secret)) };
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, {
      ...ROOT,
      GATEHOUSE_ADMIN_EMAIL: 'root@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'root password 1234',
    });
    root = adminClient(gatehouse, await adminTokenForClient(gatehouse, ROOT.GATEHOUSE_ADMIN_CLIENT_ID, ROOT.GATEHOUSE_ADMIN_CLIENT_SECRET));
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('admin:clients:write cannot reach an admin client or make one', async () => {
    const { api } = await serviceWith('admin:clients:write');
    expect(await api('POST', `/clients/${ROOT.GATEHOUSE_ADMIN_CLIENT_ID}/secret`)).toMatchObject({
      status: 403,
      body: { error: 'insufficient_scope' },
    });
    expect((await api('DELETE', `/clients/${ROOT.GATEHOUSE_ADMIN_CLIENT_ID}`)).status).toBe(403);
    expect((await api('PATCH', `/clients/${ROOT.GATEHOUSE_ADMIN_CLIENT_ID}`, { client_name: 'mine now' })).status).toBe(403);
    expect(
      (
        await api('POST', '/clients', {
          grant_types: ['client_credentials'],
          api_access: [{ resource: adminApi(), scopes: ['admin'] }],
          default_resource: adminApi(),
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await api('POST', '/clients', {
          grant_types: ['client_credentials'],
          api_access: [{ resource: adminApi(), scopes: ['admin:events:read'] }],
        })
      ).status,
    ).toBe(403);
    const plain = (await api('POST', '/clients', { grant_types: ['client_credentials'] })).body as { client_id: string };
    expect((await api('PATCH', `/clients/${plain.client_id}`, { api_access: [{ resource: adminApi(), scopes: ['admin'] }] })).status).toBe(
      403,
    );
    // Ordinary clients stay its to manage.
    expect((await api('POST', `/clients/${plain.client_id}/secret`)).status).toBe(200);
  });

  it('admin:users:write cannot grant the admin role or touch an admin', async () => {
    const { api } = await serviceWith('admin:users:write');
    expect((await api('POST', '/users', { email: 'sneaky@example.test', password: 'sneaky password 1', roles: ['admin'] })).status).toBe(
      403,
    );
    const plain = (await api('POST', '/users', { email: 'plain@example.test', password: 'plain password 12' })).body as { id: string };
    expect((await api('PATCH', `/users/${plain.id}`, { roles: ['admin'] })).status).toBe(403);
    const rootUser = (await gatehouse.users.listUsers({ email: 'root@example.test', limit: 1 })).users[0];
    expect((await api('PATCH', `/users/${rootUser?.id}`, { password: 'taken over password' })).status).toBe(403);
    expect((await api('DELETE', `/users/${rootUser?.id}`)).status).toBe(403);
    expect((await api('PATCH', `/users/${plain.id}`, { name: 'Plain' })).status).toBe(200);
    expect((await root('PATCH', `/users/${plain.id}`, { roles: ['admin'] })).status).toBe(200);
  });

  it('the admin API resource itself cannot be changed or deleted', async () => {
    const listed = (await root('GET', '/resources')).body as { data: { id: string; identifier: string }[] };
    const builtIn = listed.data.find((resource) => resource.identifier === adminApi());
    expect(await root('DELETE', `/resources/${builtIn?.id}`)).toMatchObject({ status: 409, body: { error: 'resource_reserved' } });
    expect((await root('PATCH', `/resources/${builtIn?.id}`, { scopes: [] })).status).toBe(409);
  });

  it('a revoked token, a deleted client and revoked sessions stop admin tokens at once', async () => {
    const service = await serviceWith('admin');
    const token = await adminTokenForClient(gatehouse, service.client_id, service.client_secret);
    expect((await adminClient(gatehouse, token)('GET', '/keys')).status).toBe(200);
    const revoke = await fetch(`${gatehouse.url}/token/revocation`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${service.client_id}:${service.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ token }),
    });
    expect(revoke.status).toBe(200);
    expect((await adminClient(gatehouse, token)('GET', '/keys')).status).toBe(401);
    expect((await service.api('GET', '/keys')).status).toBe(200);
    expect((await root('DELETE', `/clients/${service.client_id}`)).status).toBe(204);
    expect((await service.api('GET', '/keys')).status).toBe(401);

    const userToken = await adminTokenForUser(gatehouse, 'root@example.test', 'root password 1234');
    const asUser = adminClient(gatehouse, userToken);
    expect((await asUser('GET', '/keys')).status).toBe(200);
    const rootUser = (await gatehouse.users.listUsers({ email: 'root@example.test', limit: 1 })).users[0];
    expect((await root('POST', `/users/${rootUser?.id}/revoke-sessions`)).status).toBe(204);
    expect((await asUser('GET', '/keys')).status).toBe(401);
  });

  it('answers bad cursors and dates with 400, unknown endpoints with a JSON 404', async () => {
    const cursor = (value: string) => Buffer.from(value).toString('base64url');
    expect(await root('GET', `/users?cursor=${cursor('abc')}`)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await root('GET', `/resources?cursor=${cursor('abc')}`)).toMatchObject({ status: 400 });
    expect(await root('GET', `/events?cursor=${cursor('9999999999999999999')}`)).toMatchObject({ status: 400 });
    expect(await root('GET', '/events?since=0000-01-01T00:00:00Z')).toMatchObject({ status: 400 });
    expect(await root('GET', '/nope')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    // The path exists, the method does not: 405 with Allow (RFC 9110 §15.5.6).
    const put = await root('PUT', '/clients');
    expect(put).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect(put.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
  });

  it('does not audit requests that present no token, and answers a Basic header with the bare challenge', async () => {
    const before = await gatehouse.prisma.event.count({ where: { type: 'admin.authentication_failed' } });
    const bare = await fetch(`${gatehouse.url}/admin/users`);
    const basic = await fetch(`${gatehouse.url}/admin/users`, { headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    for (const response of [bare, basic]) {
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse-admin"');
    }
    expect(await gatehouse.prisma.event.count({ where: { type: 'admin.authentication_failed' } })).toBe(before);
  });

  it('changing grant_types alone re-derives response_types', async () => {
    const web = (await root('POST', '/clients', { redirect_uris: ['https://w.example.test/cb'] })).body as { client_id: string };
    expect(await root('PATCH', `/clients/${web.client_id}`, { grant_types: ['client_credentials'] })).toMatchObject({
      status: 200,
      body: { grant_types: ['client_credentials'], response_types: [] },
    });
  });
});
