import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpiredRows, deleteOldEvents } from '../../src/jobs/expired-rows.js';
import { recordStatements } from '../support/query-plans.js';
import { API, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';
import { postForm } from '../support/service-client.js';
import { createMigratedDatabase } from '../support/services.js';

describe('expired row cleanup', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

  beforeAll(async () => {
    database = await createMigratedDatabase();
  });
  afterAll(() => database?.drop());

  it('deletes rows expired for over an hour, in batches, and keeps the rest', async () => {
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3600_000);
    const rows = [
      ...Array.from({ length: 2500 }, (_, i) => ({ id: `old-${i}`, expiresAt: hoursAgo(2) })),
      { id: 'just-expired', expiresAt: hoursAgo(0.5) },
      { id: 'live', expiresAt: hoursAgo(-1) },
      { id: 'no-expiry', expiresAt: null },
    ];
    await database.prisma.oidcPayload.createMany({ data: rows.map((row) => ({ model: 'AccessToken', payload: {}, ...row })) });
    expect(await deleteExpiredRows(database.prisma)).toBe(2500);
    const left = await database.prisma.oidcPayload.findMany({ select: { id: true }, orderBy: { id: 'asc' } });
    expect(left.map((row) => row.id)).toEqual(['just-expired', 'live', 'no-expiry']);
  });

  it('deletes audit events older than the retention and keeps newer ones', async () => {
    const daysAgo = (days: number) => new Date(Date.now() - days * 86400_000);
    await database.prisma.event.createMany({
      data: [
        { type: 'login.failed', occurredAt: daysAgo(91) },
        { type: 'login.failed', occurredAt: daysAgo(120) },
        { type: 'user.created', occurredAt: daysAgo(89) },
        { type: 'user.created', occurredAt: daysAgo(0) },
      ],
    });
    expect(await deleteOldEvents(database.prisma, 90 * 86400)).toBe(2);
    expect(await database.prisma.event.count()).toBe(2);
  });
});

describe('expired refresh-token successor cleanup', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

  beforeAll(async () => {
    database = await createMigratedDatabase();
  });
  afterAll(() => database?.drop());

  it('forgets a successor as soon as its retry window has passed, and keeps the live ones', async () => {
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000);
    await database.prisma.oidcPayload.createMany({
      data: ['a', 'b'].map((id) => ({ model: 'RefreshToken', id, payload: {}, expiresAt: ago(-3600) })),
    });
    await database.prisma.refreshTokenSuccessor.createMany({
      data: [
        { id: 'a', successorId: 'a2', sealedSuccessor: 'v1.x.y.z', expiresAt: ago(1) },
        { id: 'b', successorId: 'b2', sealedSuccessor: 'v1.x.y.z', expiresAt: ago(-30) },
      ],
    });
    expect(await deleteExpiredRows(database.prisma)).toBe(1);
    expect((await database.prisma.refreshTokenSuccessor.findMany()).map((row) => row.id)).toEqual(['b']);
  });
});

describe('a cleanup pass over many rows', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

  beforeAll(async () => {
    database = await createMigratedDatabase();
  });
  afterAll(() => database?.drop());

  const seed = (sql: string) => database.prisma.$executeRawUnsafe(sql);

  it('deletes every expired row and no live one, in bounded statements, and leaves rows a request holds locked', async () => {
    await seed(`INSERT INTO oidc_payloads (model, id, payload, expires_at)
      SELECT 'AccessToken', 'old-' || i, '{}', now() - interval '2 hours' - i * interval '1 second' FROM generate_series(1, 2350) i`);
    await seed(`INSERT INTO oidc_payloads (model, id, payload, expires_at)
      SELECT 'AccessToken', 'live-' || i, '{}', now() + interval '1 hour' FROM generate_series(1, 500) i`);
    await seed(`INSERT INTO login_counters (key, count, expires_at)
      SELECT 'ip:' || i, 1, now() - interval '1 minute' FROM generate_series(1, 1200) i`);
    await seed(`INSERT INTO login_counters (key, count, expires_at) VALUES ('ip:live', 1, now() + interval '1 hour')`);

    // A request in the middle of a rotation holds one expired row locked: the pass goes around it, never waits for it.
    const request = new pg.Client({ connectionString: database.databaseUrl });
    await request.connect();
    await request.query('BEGIN');
    await request.query(`SELECT 1 FROM oidc_payloads WHERE id = 'old-7' FOR UPDATE`);

    const recording = recordStatements();
    let deleted: number;
    try {
      deleted = await deleteExpiredRows(database.prisma, { batchSize: 500, pauseMs: 0 });
    } finally {
      recording.stop();
      await request.query('COMMIT');
      await request.end();
    }
    expect(deleted).toBe(2349 + 1200);
    const deletes = recording.statements.filter((statement) => /^\s*DELETE FROM oidc_payloads\b/.test(statement.text));
    // 2349 rows at 500 a statement: four full batches, then one of 349 that ends the table's pass.
    expect(deletes).toHaveLength(5);
    for (const statement of deletes) {
      expect(statement.text).toMatch(/ORDER BY expires_at LIMIT \$2 FOR UPDATE SKIP LOCKED/);
      expect(statement.values[1]).toBe(500);
    }
    expect(recording.statements.filter((statement) => /^\s*DELETE FROM login_counters\b/.test(statement.text))).toHaveLength(3);

    const left = await database.prisma.oidcPayload.findMany({ select: { id: true } });
    expect(left.map((row) => row.id).sort()).toEqual(['old-7', ...Array.from({ length: 500 }, (_, i) => `live-${i + 1}`)].sort());
    expect((await database.prisma.loginCounter.findMany()).map((row) => row.key)).toEqual(['ip:live']);

    // Once the request is done, the next pass takes the row it held.
    expect(await deleteExpiredRows(database.prisma, { batchSize: 500, pauseMs: 0 })).toBe(1);
  });

  it('stops between two batches when asked to (shutdown)', async () => {
    await seed(`INSERT INTO events (type, occurred_at)
      SELECT 'login.failed', now() - interval '200 days' - i * interval '1 second' FROM generate_series(1, 1000) i`);
    const stopping = new AbortController();
    // Shutdown comes while the first batch is in flight: that batch finishes, no other starts.
    const recording = recordStatements((statement) => {
      if (statement.text.includes('DELETE FROM events')) stopping.abort();
    });
    const deleted = await deleteOldEvents(database.prisma, 90 * 86400, { batchSize: 100, pauseMs: 0, signal: stopping.signal }).finally(
      () => recording.stop(),
    );
    expect(deleted).toBe(100);
    expect(await database.prisma.event.count()).toBe(900);
  });
});

describe('a cleanup pass while the server serves requests', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    started = await startWithSampleApp();
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  it('serves token requests while a pass deletes expired rows', async () => {
    const { gatehouse } = started;
    await gatehouse.prisma.$executeRawUnsafe(`INSERT INTO oidc_payloads (model, id, payload, expires_at)
      SELECT 'AccessToken', 'old-' || i, '{}', now() - interval '2 hours' FROM generate_series(1, 20000) i`);
    const service = await gatehouse.clients.registerClient({
      grant_types: ['client_credentials'],
      api_access: [{ resource: API, scopes: ['items:read'] }],
      default_resource: API,
    });
    let passDone = false;
    // 40 batches 50 ms apart: the pass outlasts one token request by far, however slow the machine.
    const pass = deleteExpiredRows(gatehouse.prisma, { batchSize: 500, pauseMs: 50 }).then((deleted) => {
      passDone = true;
      return deleted;
    });
    // Once the pass has deleted its first batch, a client asks for a token and introspects it.
    await expect.poll(async () => (await gatehouse.prisma.oidcPayload.count()) < 20000).toBe(true);
    const token = await postForm(`${gatehouse.issuer}/token`, { grant_type: 'client_credentials', resource: API }, [
      service.client_id,
      service.client_secret as string,
    ]);
    expect(token.status).toBe(200);
    const servedDuringPass = !passDone;
    expect(await pass).toBe(20000);
    expect(servedDuringPass).toBe(true);
    expect(await gatehouse.prisma.oidcPayload.count({ where: { id: { startsWith: 'old-' } } })).toBe(0);
  });
});
