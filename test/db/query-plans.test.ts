import * as oidc from 'openid-client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionActivityStore } from '../../src/account/session-activity.js';
import { SYSTEM } from '../../src/audit/events.js';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { deriveSecrets } from '../../src/config/master-secret.js';
import { deleteExpiredRows, deleteOldEvents } from '../../src/jobs/expired-rows.js';
import { createAdapterFactory, revokeByClient } from '../../src/oidc/prisma-adapter.js';
import { adminClient, adminTokenForUser } from '../support/admin.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, TEST_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import { API, discover, registerSampleApp, signIn } from '../support/sample-app.js';
import { explain, isPlannable, recordStatements, SMALL_TABLES, seedLargeTables, type RecordedStatement } from '../support/query-plans.js';
import { postForm } from '../support/service-client.js';

// Enough rows that the planner scans a table whole when no index serves a query
// (the first test checks that), few enough to seed in seconds.
const ROWS = 20_000;

/**
 * Every statement the hot paths send, recorded as the running server sends it
 * (Prisma's real SQL, with its parameters), must be planned with an index on a
 * database whose tables hold many rows, ANALYZEd: no sequential scan of a table
 * that grows with users, clients, APIs or traffic. No planner settings are
 * changed: the plans are the ones production would get.
 */
describe('query plans on a large database', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let client: pg.Client;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;
  let service: RegisteredClient;
  let admin: ReturnType<typeof adminClient>;

  /** Runs `work` while recording what reaches Postgres; returns the statements whose plan scans a large table whole. */
  const sequentialScansDuring = async (work: () => Promise<void>) => {
    const recording = recordStatements();
    try {
      await work();
    } finally {
      recording.stop();
    }
    const plannable = recording.statements.filter(isPlannable);
    const found: { sql: string; seqScans: string[] }[] = [];
    const plans: { sql: string; indexes: string[] }[] = [];
    for (const statement of unique(plannable)) {
      const { seqScans, indexes } = await explain(client, statement);
      const sql = statement.text.replace(/\s+/g, ' ').trim();
      plans.push({ sql, indexes });
      const large = seqScans.filter((table) => !SMALL_TABLES.has(table));
      if (large.length > 0) found.push({ sql, seqScans: large });
    }
    return { statements: plannable.length, found, plans };
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, {
      GATEHOUSE_ADMIN_EMAIL: 'root@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'root password 1234',
    });
    client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    sample = await registerSampleApp(gatehouse);
    await seedLargeTables(client, ROWS, sample.client.client_id);
    config = await discover(gatehouse, sample.client);
    service = await gatehouse.clients.registerClient({
      grant_types: ['client_credentials'],
      api_access: [{ resource: API, scopes: ['items:read'] }],
      default_resource: API,
    });
    admin = adminClient(gatehouse, await adminTokenForUser(gatehouse, 'root@example.test', 'root password 1234'));
    await client.query('ANALYZE');
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('has tables large enough that a query no index serves is planned as a sequential scan', async () => {
    const unindexed: RecordedStatement[] = [
      { text: `SELECT * FROM oidc_payloads WHERE payload->>'sid' = $1`, values: ['x'] },
      { text: 'SELECT * FROM users WHERE password_hash = $1', values: ['x'] },
      { text: 'SELECT * FROM events WHERE client_ip = $1', values: ['10.0.7.7'] },
      { text: 'SELECT * FROM clients WHERE metadata = $1', values: ['{}'] },
      { text: 'SELECT * FROM resources WHERE name = $1', values: ['Seed API 7'] },
    ];
    for (const statement of unindexed) expect((await explain(client, statement)).seqScans).not.toEqual([]);
  });

  it('signs a user in, refreshes, introspects an opaque token and serves userinfo with an index for every query', async () => {
    const { statements, found } = await sequentialScansDuring(async () => {
      const { tokens } = await signIn(config, { scope: 'openid email offline_access', prompt: 'consent', resource: API });
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string, { resource: API });
      expect(refreshed.refresh_token).toBeDefined();
      // Without a resource the access token is opaque: stored, and introspected by its row.
      const { tokens: opaque } = await signIn(config, { scope: 'openid email' });
      const introspection = await postForm(`${gatehouse.issuer}/token/introspection`, { token: opaque.access_token }, [
        sample.client.client_id,
        sample.client.client_secret as string,
      ]);
      expect(((await introspection.json()) as { active: boolean }).active).toBe(true);
      expect((await oidc.fetchUserInfo(config, opaque.access_token, sample.user.id)).sub).toBe(sample.user.id);
      const revoked = await postForm(`${gatehouse.issuer}/token/revocation`, { token: refreshed.refresh_token as string }, [
        sample.client.client_id,
        sample.client.client_secret as string,
      ]);
      expect(revoked.status).toBe(200);
    });
    expect(statements).toBeGreaterThan(10);
    expect(found).toEqual([]);
  });

  it('issues client-credentials tokens with an index for every query', async () => {
    const { statements, found } = await sequentialScansDuring(async () => {
      const response = await postForm(`${gatehouse.issuer}/token`, { grant_type: 'client_credentials', resource: API }, [
        service.client_id,
        service.client_secret as string,
      ]);
      expect(response.status).toBe(200);
      // A client not in the cache: its lookup goes to the database.
      expect(await gatehouse.clients.findStoredClient('seed-client-777')).not.toBeNull();
    });
    expect(statements).toBeGreaterThan(0);
    expect(found).toEqual([]);
  });

  it('pages and filters the admin lists of users, clients, APIs and audit events with an index for every query', async () => {
    const { statements, found } = await sequentialScansDuring(async () => {
      for (const resource of ['users', 'clients', 'resources', 'events']) {
        const first = await admin('GET', `/${resource}?limit=20`);
        expect({ resource, status: first.status }).toEqual({ resource, status: 200 });
        const cursor = first.body?.next_cursor as string;
        expect(cursor).toEqual(expect.any(String));
        expect((await admin('GET', `/${resource}?limit=20&cursor=${cursor}`)).status).toBe(200);
      }
      expect((await admin('GET', '/users?email=seed-777@example.test')).body?.data).toHaveLength(1);
      expect((await admin('GET', '/users?search=SEED-1234@')).body?.data).toHaveLength(1);
      expect((await admin('GET', '/users?search=seed 4321')).body?.data).toHaveLength(1);
      for (const type of ['login.failed', 'key.rotated']) {
        const byType = await admin('GET', `/events?type=${type}&limit=20`);
        expect(byType.status).toBe(200);
        const cursor = byType.body?.next_cursor as string | null;
        if (cursor) expect((await admin('GET', `/events?type=${type}&limit=20&cursor=${cursor}`)).status).toBe(200);
      }
      const since = new Date(Date.now() - 60_000).toISOString();
      expect((await admin('GET', `/events?since=${encodeURIComponent(since)}&limit=20`)).status).toBe(200);
      expect((await admin('GET', `/users/${sample.user.id}`)).status).toBe(200);
      expect((await admin('GET', '/clients/seed-client-778')).status).toBe(200);
    });
    expect(statements).toBeGreaterThan(10);
    expect(found).toEqual([]);
  });

  it('searches clients, reads a user’s audit events and sign-in state, and the audit log by actor with an index for every query', async () => {
    const { statements, found, plans } = await sequentialScansDuring(async () => {
      // Client search (GET /admin/clients?search=): by part of the id, and by part of the name, in any case.
      const byId = await admin('GET', '/clients?search=CLIENT-12345&limit=20');
      expect(column(byId.body, 'client_id')).toEqual(['seed-client-12345']);
      const byName = await admin('GET', '/clients?search=seed 4321&limit=20');
      expect(column(byName.body, 'client_id')).toEqual(['seed-client-4321']);
      // seed-client-1234 and seed-client-12340 to 12349: a first page of 2, then the next by cursor.
      const first = await admin('GET', '/clients?search=client-1234&limit=2');
      const cursor = first.body?.next_cursor as string;
      expect(cursor).toEqual(expect.any(String));
      const next = await admin('GET', `/clients?search=client-1234&limit=2&cursor=${cursor}`);
      expect(column(next.body, 'client_id')).toEqual(['seed-client-12341', 'seed-client-12342']);
      // A user's recent second-factor failures (GET /admin/users/:id/sign-in, the console's user page, `users sign-in`).
      const signInState = await admin('GET', `/users/${sample.user.id}/sign-in`);
      expect(signInState.status).toBe(200);
      // The audit log filtered by subject (GET /admin/events?subject=), first page and a page before a cursor.
      const bySubject = await admin('GET', '/events?subject=user:777&limit=20');
      expect(column(bySubject.body, 'subject')).toEqual(['user:777']);
      const before = Buffer.from(String(ROWS * 5)).toString('base64url');
      const olderPage = await admin('GET', `/events?subject=user:777&limit=20&cursor=${before}`);
      expect(column(olderPage.body, 'subject')).toEqual(['user:777']);
      // The audit log filtered by actor (GET /admin/events?actor=, `events list --actor`, the console's audit log), likewise.
      const byActor = await admin('GET', '/events?actor=user:778&limit=20');
      expect(column(byActor.body, 'actor')).toEqual(['user:778']);
      const olderByActor = await admin('GET', `/events?actor=user:778&limit=20&cursor=${before}`);
      expect(column(olderByActor.body, 'actor')).toEqual(['user:778']);
    });
    expect(statements).toBeGreaterThan(5);
    expect(found).toEqual([]);
    // Without events_subject_id_idx the sign-in state is no sequential scan either: it reads every
    // second-factor failure of the last day (all users') through events_type_occurred_at_idx and
    // filters by subject. So each statement by subject must go through the subject's index.
    const subjectPlans = plans.filter((plan) => plan.sql.includes('"events"."subject" = $1'));
    expect(subjectPlans).toHaveLength(3);
    for (const plan of subjectPlans) expect(plan).toEqual({ sql: plan.sql, indexes: ['events_subject_id_idx'] });
    // Without events_actor_id_idx a page by actor may walk the primary key backwards, filtering every
    // event by actor (no sequential scan, still the whole table for a rare actor): require the actor's index.
    const actorPlans = plans.filter((plan) => plan.sql.includes('"events"."actor" = $1'));
    expect(actorPlans).toHaveLength(2);
    for (const plan of actorPlans) expect(plan).toEqual({ sql: plan.sql, indexes: ['events_actor_id_idx'] });
  });

  it('ends a user’s sessions and deletes a client with an index for every query', async () => {
    const { found } = await sequentialScansDuring(async () => {
      expect((await admin('POST', `/users/${sample.user.id}/revoke-sessions`)).status).toBeLessThan(300);
      expect((await admin('DELETE', '/clients/seed-client-779')).status).toBe(204);
      const deleted = await gatehouse.prisma.$transaction((tx) => revokeByClient(tx, 'seed-client-780'));
      expect(deleted).toBeGreaterThan(0);
      // One browser session, or all but one, ended from the console or the account page (queueing their logout tokens).
      const sessions = createSessionActivityStore(gatehouse.prisma);
      expect(await sessions.endSession('seed-account-7', 'seed-uid-7', SYSTEM)).toBe(true);
      expect(await sessions.endOtherSessions('seed-account-14', 'seed-uid-none', SYSTEM)).toBeGreaterThan(0);
    });
    expect(found).toEqual([]);
  });

  it('finds rows by id, uid, user code and grant with an index for every query', async () => {
    const adapterFor = createAdapterFactory(gatehouse.prisma, gatehouse.clients, deriveSecrets(TEST_SECRET).payloadSealKey);
    const { statements, found, plans } = await sequentialScansDuring(async () => {
      await adapterFor('AccessToken').find('seed-3');
      await adapterFor('RefreshToken').find('seed-4');
      await adapterFor('Session').findByUid('seed-uid-7');
      await adapterFor('Session').find('seed-7');
      await adapterFor('Interaction').find('seed-8');
      await adapterFor('DeviceCode').findByUserCode('SEED-6');
      await adapterFor('RefreshToken').revokeByGrantId?.('seed-grant-9');
      await adapterFor('AuthorizationCode').destroy('seed-11');
      await adapterFor('Interaction').upsert('seed-new', { uid: 'seed-uid-new' } as never, 60);
    });
    expect(statements).toBeGreaterThanOrEqual(9);
    expect(found).toEqual([]);
    // A refresh token is read with its grant and its user: all by primary key, the grant's from the
    // token's grant_id, the user's from its accountId, the user's roles by the user_roles key.
    // The sparse columns' lookups by value use their partial indexes (rows where the column is set).
    const indexesOf = (column: string) =>
      plans.filter((plan) => new RegExp(`"?${column}"? = \\$`).test(plan.sql)).flatMap((plan) => plan.indexes);
    expect(indexesOf('uid')).toContain('oidc_payloads_uid_set_idx');
    expect(indexesOf('user_code')).toContain('oidc_payloads_user_code_set_idx');
    expect(indexesOf('grant_id')).toContain('oidc_payloads_grant_id_set_idx');
    const tokenWithGrant = plans.filter((plan) => plan.sql.includes('LEFT JOIN oidc_payloads g'));
    expect(tokenWithGrant).toHaveLength(1);
    expect(tokenWithGrant[0]?.indexes).toEqual([
      'oidc_payloads_pkey',
      'oidc_payloads_pkey',
      'users_pkey',
      'user_roles_pkey',
      'user_roles_pkey',
    ]);
    // A session by its cookie with its user, an interaction with the user its login names: the same keys.
    const withAccount = plans.filter((plan) => /FROM oidc_payloads t\s+LEFT JOIN LATERAL/.test(plan.sql));
    expect(withAccount.map((plan) => (plan.sql.includes("'result'") ? 'Interaction' : 'Session')).sort()).toEqual([
      'Interaction',
      'Session',
    ]);
    for (const plan of withAccount) {
      expect(plan.indexes).toEqual(['oidc_payloads_pkey', 'users_pkey', 'user_roles_pkey', 'user_roles_pkey']);
    }
  });

  it('runs the cleanup job’s deletes with an index', async () => {
    const { statements, found } = await sequentialScansDuring(async () => {
      await deleteExpiredRows(gatehouse.prisma);
      await deleteOldEvents(gatehouse.prisma, 90 * 86400);
    });
    expect(statements).toBeGreaterThanOrEqual(2);
    expect(found).toEqual([]);
  });
});

/** One field of every item of an admin list's page. */
function column(body: Record<string, unknown> | undefined, field: string): unknown[] {
  return ((body?.data ?? []) as Record<string, unknown>[]).map((item) => item[field]);
}

/** Each statement once per set of parameters: the planner may choose differently for other values (a search term, a cursor). */
function unique(statements: RecordedStatement[]): RecordedStatement[] {
  const seen = new Map<string, RecordedStatement>();
  for (const statement of statements) {
    const key = JSON.stringify([statement.text, statement.values], (_, value) => (typeof value === 'bigint' ? value.toString() : value));
    if (!seen.has(key)) seen.set(key, statement);
  }
  return [...seen.values()];
}
