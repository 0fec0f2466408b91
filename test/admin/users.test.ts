import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForUser } from '../support/admin.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { discover, registerSampleApp, signIn } from '../support/sample-app.js';

type Json = Record<string, unknown>;

describe('admin API: users', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let api: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, {
      GATEHOUSE_ADMIN_EMAIL: 'root@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'root password 1234',
    });
    api = adminClient(gatehouse, await adminTokenForUser(gatehouse, 'root@example.test', 'root password 1234'));
    await gatehouse.roles.createRole({ name: 'engineer' });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('creates a user: 201 without any password or hash field', async () => {
    const created = await api('POST', '/users', {
      email: 'Ada@Example.test',
      password: 'correct horse battery',
      name: 'Ada',
      roles: ['engineer'],
      email_verified: true,
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      email: 'ada@example.test',
      name: 'Ada',
      roles: ['engineer'],
      email_verified: true,
      disabled: false,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(JSON.stringify(created.body)).not.toMatch(/password|hash|argon/i);
    expect(
      await api('POST', '/users', { email: 'nobody@example.test', password: 'correct horse battery', roles: ['ghost'] }),
    ).toMatchObject({
      status: 400,
      body: { error: 'unknown_role', error_description: 'no role named ghost' },
    });
    expect((await api('GET', '/users?email=nobody@example.test')).body).toMatchObject({ data: [] });
  });

  it('answers 409 for a duplicate email in any case, 400 for a weak password', async () => {
    expect(await api('POST', '/users', { email: 'ADA@example.TEST', password: 'another long password' })).toMatchObject({
      status: 409,
      body: { error: 'email_taken' },
    });
    expect(await api('POST', '/users', { email: 'short@example.test', password: 'short' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_password' },
    });
    expect(await api('POST', '/users', { email: 'same@example.test', password: 'same@example.test' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_password' },
    });
  });

  it('answers malformed JSON, unknown fields, wrong types and a missing body with 400', async () => {
    expect(await api('POST', '/users', '{"email": ')).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    expect(await api('POST', '/users', { email: 'x@example.test', password: 'long enough password', admin: true })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: expect.stringContaining('admin') },
    });
    expect(await api('POST', '/users', { email: 42, password: 'long enough password' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
    expect((await api('POST', '/users', undefined)).status).toBe(400);
    expect(await api('POST', '/users', 'email=a', { 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({
      status: 400,
      body: { error: 'invalid_request' },
    });
  });

  it('answers a body over 1 MB with 413', async () => {
    const response = await api('POST', '/users', {
      email: 'big@example.test',
      password: 'long enough password',
      name: 'x'.repeat(1_100_000),
    });
    expect(response).toMatchObject({ status: 413, body: { error: 'request_too_large' } });
  });

  it('pages through users with limit and cursor, and filters by email', async () => {
    for (let i = 0; i < 5; i += 1) {
      expect((await api('POST', '/users', { email: `page${i}@example.test`, password: 'long enough password' })).status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await api('GET', `/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(response.status).toBe(200);
      const body = response.body as { data: Json[]; next_cursor: string | null };
      expect(body.data.length).toBeLessThanOrEqual(2);
      seen.push(...body.data.map((user) => String(user.email)));
      cursor = body.next_cursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBeGreaterThan(3);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(['root@example.test', 'ada@example.test', 'page0@example.test', 'page4@example.test']));
    const filtered = await api('GET', '/users?email=PAGE3@example.test');
    expect((filtered.body as { data: Json[] }).data.map((user) => user.email)).toEqual(['page3@example.test']);
    expect(await api('GET', '/users?limit=0')).toMatchObject({ status: 400 });
    expect(await api('GET', '/users?unknown=1')).toMatchObject({ status: 400 });
  });

  it('searches users by part of their email or name in any letter case, and pages the results', async () => {
    for (const [email, name] of [
      ['marie.curie@example.test', 'Marie Curie'],
      ['pierre@example.test', 'Pierre Curie'],
      ['irene@example.test', 'Irène Joliot-Curie'],
      ['percent%50@example.test', 'Fifty'],
    ]) {
      expect((await api('POST', '/users', { email, name, password: 'long enough password' })).status).toBe(201);
    }
    const emails = async (query: string) => {
      const response = await api('GET', `/users?${query}`);
      expect(response.status).toBe(200);
      return (response.body as { data: Json[] }).data.map((user) => user.email);
    };
    expect(await emails('search=CURIE')).toEqual(
      expect.arrayContaining(['marie.curie@example.test', 'pierre@example.test', 'irene@example.test']),
    );
    expect(await emails('search=CURIE')).toHaveLength(3);
    expect(await emails('search=Marie.C')).toEqual(['marie.curie@example.test']);
    // % and _ are characters to find, not wildcards.
    expect(await emails(`search=${encodeURIComponent('nt%5')}`)).toEqual(['percent%50@example.test']);
    expect(await emails('search=r_e')).toEqual([]);
    const first = await api('GET', '/users?search=curie&limit=2');
    const second = await api('GET', `/users?search=curie&limit=2&cursor=${first.body?.next_cursor}`);
    const found = [first, second].flatMap((response) => (response.body as { data: Json[] }).data);
    expect(found.map((user) => user.email).sort()).toEqual(['irene@example.test', 'marie.curie@example.test', 'pierre@example.test']);
    expect(second.body?.next_cursor).toBeNull();
    // Shorter terms work too (no trigram index then: a scan of the users).
    expect(await emails('search=%20cu%20')).toHaveLength(3);
    expect(await emails(`search=${encodeURIComponent('cur\u0000ie')}`)).toEqual([]);
  });

  it('shows, changes and deletes a user; unknown ids are 404', async () => {
    const created = (await api('POST', '/users', { email: 'grace@example.test', password: 'long enough password' })).body as Json;
    expect(await api('GET', `/users/${created.id}`)).toMatchObject({ status: 200, body: { email: 'grace@example.test' } });
    const changed = await api('PATCH', `/users/${created.id}`, { name: 'Grace Hopper', roles: ['admin'], email_verified: true });
    expect(changed).toMatchObject({ status: 200, body: { name: 'Grace Hopper', roles: ['admin'], email_verified: true } });
    expect(await api('PATCH', `/users/${created.id}`, { email: 'ada@example.test' })).toMatchObject({ status: 409 });
    expect(await api('PATCH', `/users/${created.id}`, { password: 'short' })).toMatchObject({ status: 400 });
    expect((await api('PATCH', `/users/${created.id}`, { password: 'a brand new password' })).status).toBe(200);
    expect(await gatehouse.users.authenticate('grace@example.test', 'a brand new password')).not.toBeNull();
    expect((await api('DELETE', `/users/${created.id}`)).status).toBe(204);
    expect(await api('GET', `/users/${created.id}`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect((await api('DELETE', `/users/${created.id}`)).status).toBe(404);
    expect((await api('GET', '/users/not-a-uuid')).status).toBe(404);
    expect((await api('PATCH', '/users/00000000-0000-4000-8000-000000000000', { name: 'x' })).status).toBe(404);
  });

  it('disabling a user or revoking their sessions stops their refresh tokens', async () => {
    const sample = await registerSampleApp(gatehouse, 'victim@example.test');
    const config = await discover(gatehouse, sample.client);
    const first = await signIn(config, { scope: 'openid offline_access', prompt: 'consent', email: 'victim@example.test' });
    expect((await api('POST', `/users/${sample.user.id}/revoke-sessions`)).status).toBe(204);
    await expect(oidc.refreshTokenGrant(config, first.tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });

    const second = await signIn(config, { scope: 'openid offline_access', prompt: 'consent', email: 'victim@example.test' });
    expect(await api('PATCH', `/users/${sample.user.id}`, { disabled: true })).toMatchObject({ status: 200, body: { disabled: true } });
    await expect(oidc.refreshTokenGrant(config, second.tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('writes an audit event for every change, naming the admin who made it and never the password', async () => {
    const response = await api('GET', '/events?limit=100');
    const events = (response.body as { data: { type: string; actor: string; subject: string; details: Json }[] }).data;
    const types = new Set(events.map((event) => event.type));
    for (const type of ['user.created', 'user.updated', 'user.deleted', 'user.disabled', 'user.sessions_revoked'])
      expect(types).toContain(type);
    const rootId = (await gatehouse.users.listUsers({ email: 'root@example.test', limit: 1 })).users[0]?.id;
    expect(events.find((event) => event.type === 'user.deleted')?.actor).toBe(`user:${rootId}`);
    expect(JSON.stringify(events)).not.toMatch(/correct horse|long enough password|brand new password/);
    expect(await api('GET', '/events?type=nonsense')).toMatchObject({ status: 400 });
    expect(await api('GET', '/events?cursor=zzz')).toMatchObject({ status: 400 });
  });
});
