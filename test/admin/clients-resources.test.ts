import * as oidc from 'openid-client';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { discover, REDIRECT_URI, registerSampleApp, signIn } from '../support/sample-app.js';

type Json = Record<string, unknown>;
const ADMIN_CLIENT = { GATEHOUSE_ADMIN_CLIENT_ID: 'ops-robot', GATEHOUSE_ADMIN_CLIENT_SECRET: 'a-long-admin-client-secret-0123456789' };

describe('admin API: bootstrap client, clients and APIs', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let api: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, ADMIN_CLIENT);
    api = adminClient(
      gatehouse,
      await adminTokenForClient(gatehouse, ADMIN_CLIENT.GATEHOUSE_ADMIN_CLIENT_ID, ADMIN_CLIENT.GATEHOUSE_ADMIN_CLIENT_SECRET),
    );
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('the configured admin client gets an admin token with client credentials; nothing is announced', async () => {
    expect(gatehouse.announcements).toEqual([]);
    expect((await api('GET', '/clients')).status).toBe(200);
  });

  it('a changed admin client secret replaces the old at the next start', async () => {
    await gatehouse.stop();
    gatehouse = await startTestGatehouse(databaseUrl, {
      ...gatehouse.environment,
      GATEHOUSE_ADMIN_CLIENT_SECRET: 'the-replacement-admin-secret-0123456789',
    });
    await expect(adminTokenForClient(gatehouse, 'ops-robot', ADMIN_CLIENT.GATEHOUSE_ADMIN_CLIENT_SECRET)).rejects.toThrow(/invalid_client/);
    api = adminClient(gatehouse, await adminTokenForClient(gatehouse, 'ops-robot', 'the-replacement-admin-secret-0123456789'));
    expect((await api('GET', '/clients')).status).toBe(200);
  });

  it('registers a client from RFC 7591 metadata and shows its secret once', async () => {
    const created = await api('POST', '/clients', {
      client_name: 'Web App',
      redirect_uris: ['https://app.example.test/cb'],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      client_id: expect.any(String),
      client_secret: expect.any(String),
      client_name: 'Web App',
      token_endpoint_auth_method: 'client_secret_basic',
      response_types: ['code'],
    });
    const shown = await api('GET', `/clients/${created.body?.client_id}`);
    expect(shown).toMatchObject({
      status: 200,
      body: { client_id: created.body?.client_id, client_name: 'Web App', created_at: expect.any(String) },
    });
    expect(JSON.stringify(shown.body)).not.toMatch(/secret_hash|client_secret"|hmac/);
  });

  it.each([
    ['https://app.example.test/cb#frag', 'fragment'],
    ['javascript:alert(1)', 'forbidden scheme'],
    ['http://app.example.test/cb', 'https'],
    ['com.example.app:/cb', 'native'],
    ['not a uri', 'absolute'],
  ])('refuses the redirect URI %s with invalid_redirect_uri', async (uri, reason) => {
    const response = await api('POST', '/clients', { redirect_uris: [uri] });
    expect(response).toMatchObject({
      status: 400,
      body: { error: 'invalid_redirect_uri', error_description: expect.stringContaining(reason) },
    });
  });

  it('refuses bad metadata with invalid_client_metadata, and a taken client_id with 409', async () => {
    expect(await api('POST', '/clients', { redirect_uris: ['https://a.example.test/cb'], colour: 'blue' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_client_metadata' },
    });
    expect(await api('POST', '/clients', { redirect_uris: ['https://a.example.test/cb'], grant_types: ['password'] })).toMatchObject({
      status: 400,
      body: { error: 'invalid_client_metadata' },
    });
    expect((await api('POST', '/clients', { client_id: 'fixed-id', redirect_uris: ['https://a.example.test/cb'] })).status).toBe(201);
    expect(await api('POST', '/clients', { client_id: 'fixed-id', redirect_uris: ['https://a.example.test/cb'] })).toMatchObject({
      status: 409,
      body: { error: 'client_exists' },
    });
  });

  it('changes metadata, checking the result whole', async () => {
    const created = (await api('POST', '/clients', { redirect_uris: ['https://b.example.test/cb'] })).body as Json;
    expect(
      await api('PATCH', `/clients/${created.client_id}`, { client_name: 'Renamed', redirect_uris: ['https://b.example.test/new'] }),
    ).toMatchObject({
      status: 200,
      body: { client_name: 'Renamed', redirect_uris: ['https://b.example.test/new'] },
    });
    expect(await api('PATCH', `/clients/${created.client_id}`, { redirect_uris: ['ftp://x'] })).toMatchObject({
      status: 400,
      body: { error: 'invalid_redirect_uri' },
    });
    const switched = await api('PATCH', `/clients/${created.client_id}`, { token_endpoint_auth_method: 'none' });
    expect(switched, JSON.stringify(switched.body)).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    expect(await api('PATCH', `/clients/${created.client_id}`, { client_id: 'other' })).toMatchObject({ status: 400 });
    expect((await api('PATCH', '/clients/no-such-client', { client_name: 'x' })).status).toBe(404);
  });

  it('removes an optional field changed to null (RFC 7396), and refuses null for a required one', async () => {
    const created = (await api('POST', '/clients', { client_name: 'Nulls', redirect_uris: ['https://n.example.test/cb'] })).body as Json;
    const removed = await api('PATCH', `/clients/${created.client_id}`, { client_name: null });
    expect(removed.status).toBe(200);
    expect(removed.body).not.toHaveProperty('client_name');
    expect(await api('PATCH', `/clients/${created.client_id}`, { redirect_uris: null })).toMatchObject({ status: 400 });
    expect(await api('PATCH', `/clients/${created.client_id}`, { token_endpoint_auth_method: null })).toMatchObject({ status: 400 });
  });

  it('rotates a secret: the old one stops working, the new one works', async () => {
    const sample = await registerSampleApp(gatehouse);
    const rotated = await api('POST', `/clients/${sample.client.client_id}/secret`);
    expect(rotated).toMatchObject({ status: 200, body: { client_id: sample.client.client_id, client_secret: expect.any(String) } });
    const tokenWith = (secret: string) =>
      fetch(`${gatehouse.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${sample.client.client_id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=refresh_token&refresh_token=unknown',
      }).then((response) => response.json() as Promise<Json>);
    expect(await tokenWith(sample.client.client_secret as string)).toMatchObject({ error: 'invalid_client' });
    expect(await tokenWith(rotated.body?.client_secret as string)).toMatchObject({ error: 'invalid_grant' });
    expect((await api('POST', '/clients/no-such-client/secret')).status).toBe(404);
  });

  it('deleting a client stops its refresh tokens', async () => {
    const created = (
      await api('POST', '/clients', {
        client_name: 'Doomed',
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
      })
    ).body as Json;
    await gatehouse.users.createUser({ email: 'doomed-user@example.test', password: 'doomed user password' });
    const config = await discover(gatehouse, created as unknown as RegisteredClient);
    const { tokens } = await signIn(config, {
      scope: 'openid offline_access',
      prompt: 'consent',
      email: 'doomed-user@example.test',
      password: 'doomed user password',
    });
    expect((await api('DELETE', `/clients/${created.client_id}`)).status).toBe(204);
    // 401 invalid_client: the client no longer exists (openid-client reports the WWW-Authenticate challenge).
    // Until the instance hears the change (LISTEN/NOTIFY), its cached client still authenticates and the
    // token, already deleted, is invalid_grant: never a success either way.
    const answers: unknown[] = [];
    const refresh = async () => {
      const answer = await oidc.refreshTokenGrant(config, tokens.refresh_token as string).then(
        () => 'refreshed',
        (error: { status?: number }) => error.status,
      );
      answers.push(answer);
      return answer;
    };
    await expect.poll(refresh, { timeout: 10_000 }).toBe(401);
    expect(answers).not.toContain('refreshed');
    expect(
      await gatehouse.prisma.$queryRawUnsafe(
        `SELECT count(*)::int AS n FROM oidc_payloads WHERE payload->>'clientId' = '${created.client_id}'`,
      ),
    ).toEqual([{ n: 0 }]);
    expect((await api('GET', `/clients/${created.client_id}`)).status).toBe(404);
    expect((await api('DELETE', `/clients/${created.client_id}`)).status).toBe(404);
  });

  it('pages through clients', async () => {
    for (let i = 0; i < 4; i += 1) await api('POST', '/clients', { redirect_uris: ['https://p.example.test/cb'] });
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const body = (await api('GET', `/clients?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).body as {
        data: Json[];
        next_cursor: string | null;
      };
      ids.push(...body.data.map((client) => String(client.client_id)));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBeGreaterThan(2);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain('ops-robot');
  });

  it('registers, lists, changes and deletes APIs', async () => {
    const created = await api('POST', '/resources', {
      identifier: 'https://orders.example.test/',
      name: 'Orders',
      scopes: [{ name: 'orders:read', description: 'Read orders' }, 'orders:write'],
      access_token_ttl: 300,
    });
    expect(created).toMatchObject({
      status: 201,
      body: {
        identifier: 'https://orders.example.test/',
        scopes: [{ name: 'orders:read', description: 'Read orders' }, { name: 'orders:write' }],
        access_token_ttl: 300,
      },
    });
    const id = String(created.body?.id);
    expect(await api('POST', '/resources', { identifier: 'https://orders.example.test/', name: 'Again' })).toMatchObject({ status: 409 });
    expect(await api('POST', '/resources', { identifier: 'https://x.example.test/#f', name: 'Fragment' })).toMatchObject({ status: 400 });
    expect(await api('PATCH', `/resources/${id}`, { name: 'Orders API', access_token_ttl: 120 })).toMatchObject({
      status: 200,
      body: { name: 'Orders API', access_token_ttl: 120 },
    });
    expect(await api('PATCH', `/resources/${id}`, { identifier: 'https://other/' })).toMatchObject({ status: 400 });
    const listed = (await api('GET', '/resources?limit=100')).body as { data: Json[] };
    expect(listed.data.map((resource) => resource.identifier)).toEqual(
      expect.arrayContaining(['https://orders.example.test/', `${gatehouse.issuer}/admin`]),
    );
    expect((await api('DELETE', `/resources/${id}`)).status).toBe(204);
    expect((await api('GET', `/resources/${id}`)).status).toBe(404);
  });

  it('audits client changes with the admin client as actor', async () => {
    const events = (await api('GET', '/events?type=client.deleted')).body as { data: { actor: string }[] };
    expect(events.data[0]?.actor).toBe('client:ops-robot');
  });
});

describe('admin bootstrap without configured credentials', () => {
  it('creates an admin client on the first start only and announces its secret once, never in the log', async () => {
    const databaseUrl = await createTestDatabase();
    const first = await startTestGatehouse(databaseUrl);
    expect(first.announcements).toHaveLength(1);
    const secret = /client_secret: (\S+)/.exec(first.announcements[0] as string)?.[1] as string;
    expect(first.announcements[0]).toContain('client_id:     gatehouse-admin');
    expect(first.log.lines.join('\n')).not.toContain(secret);
    const api = adminClient(first, await adminTokenForClient(first, 'gatehouse-admin', secret));
    expect((await api('GET', '/keys')).status).toBe(200);
    await first.stop();

    const second = await startTestGatehouse(databaseUrl, first.environment);
    expect(second.announcements).toEqual([]);
    await second.stop();
    await dropTestDatabase(databaseUrl);
  });
});
