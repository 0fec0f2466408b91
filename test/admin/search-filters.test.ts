import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForUser } from '../support/admin.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { registerSampleApp } from '../support/sample-app.js';

type Page = { data: Record<string, unknown>[]; next_cursor: string | null };

describe('admin API: search and filters (used by the console)', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let api: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, {
      GATEHOUSE_ADMIN_EMAIL: 'root@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'root password 1234',
    });
    await registerSampleApp(gatehouse);
    api = adminClient(gatehouse, await adminTokenForUser(gatehouse, 'root@example.test', 'root password 1234'));
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('finds clients by part of the id or name, any case, with % and _ taken literally', async () => {
    const found = (await api('GET', '/clients?search=sample%20APP')).body as Page;
    expect(found.data.map((client) => client.client_name)).toEqual(['Sample App']);
    const literal = (await api('GET', `/clients?search=${encodeURIComponent('%_')}`)).body as Page;
    expect(literal.data).toEqual([]);
    const paged = (await api('GET', '/clients?search=gatehouse&limit=1')).body as Page;
    expect(paged.data).toHaveLength(1);
    expect(paged.next_cursor).not.toBeNull();
    const rest = (await api('GET', `/clients?search=gatehouse&cursor=${paged.next_cursor}`)).body as Page;
    expect(rest.data.every((client) => String(client.client_id).startsWith('gatehouse-'))).toBe(true);
    expect((await api('GET', `/clients?search=${'x'.repeat(201)}`)).status).toBe(400);
  });

  it('finds users by part of the email or name, any case', async () => {
    const found = (await api('GET', '/users?search=lovel')).body as Page;
    expect(found.data.map((user) => user.email)).toEqual(['ada@example.test']);
    expect(((await api('GET', '/users?search=nobody')).body as Page).data).toEqual([]);
  });

  it('filters events by actor, subject and a time window', async () => {
    const user = await gatehouse.users.findUserByEmail('ada@example.test');
    const bySubject = (await api('GET', `/events?subject=${user?.id}`)).body as Page;
    expect(bySubject.data.length).toBeGreaterThan(0);
    expect(bySubject.data.every((event) => event.subject === user?.id)).toBe(true);
    const byActor = (await api('GET', '/events?actor=system&type=client.created')).body as Page;
    expect(byActor.data.length).toBeGreaterThan(0);
    expect(((await api('GET', '/events?until=2000-01-01T00:00:00Z')).body as Page).data).toEqual([]);
    const bad = await api('GET', '/events?until=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.body?.error).toBe('invalid_request');
  });
});
