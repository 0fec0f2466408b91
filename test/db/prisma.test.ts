import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyMigrations } from '../../src/db/migrate.js';
import { createPrismaClient, isDatabaseUnavailable, plainQuery, type PrismaClient } from '../../src/db/prisma.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { statementsSentBy } from '../support/statements-sent.js';

describe('plainQuery: single statements through the Prisma client’s own pg pool', () => {
  let databaseUrl: string;
  let prisma: PrismaClient;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    await applyMigrations(databaseUrl);
    prisma = createPrismaClient(databaseUrl, { queryTimeout: 1, connectTimeout: 5 });
  });
  afterAll(async () => {
    await prisma.$disconnect();
    await dropTestDatabase(databaseUrl);
  });

  it('answers rows with jsonb parsed and timestamps as dates, as Prisma does', async () => {
    await prisma.oidcPayload.create({ data: { model: 'Grant', id: 'plain', payload: { accountId: 'a', openid: { scope: 'openid' } } } });
    const [row] = await plainQuery(prisma)<{ payload: unknown; now: Date }>(
      'SELECT payload, now() AS now FROM oidc_payloads WHERE model = $1 AND id = $2',
      ['Grant', 'plain'],
    );
    expect(row?.payload).toEqual({ accountId: 'a', openid: { scope: 'openid' } });
    expect(row?.now).toBeInstanceOf(Date);
  });

  it("names Prisma's own statements as it names plainQuery's, so Postgres parses and plans each text once per connection", async () => {
    const sent = await statementsSentBy(async () => {
      await prisma.oidcPayload.findMany({ where: { model: 'Session' } });
      await prisma.oidcPayload.findMany({ where: { model: 'Session' } });
      await plainQuery(prisma)('SELECT 1 FROM oidc_payloads WHERE model = $1', ['Session']);
    });
    const prismas = sent.filter((statement) => statement.text.includes('"public"."oidc_payloads"'));
    expect(prismas).toHaveLength(2);
    expect(prismas[0]?.name).toMatch(/^gatehouse_[0-9a-f]{24}$/);
    expect(prismas[1]?.name).toBe(prismas[0]?.name);
    expect(sent.at(-1)?.name).toMatch(/^gatehouse_[0-9a-f]{24}$/);
    expect(sent.at(-1)?.name).not.toBe(prismas[0]?.name);
  });

  it("names at most 128 of Prisma's texts in a process, and plainQuery's whatever Prisma sent before", async () => {
    const sent = await statementsSentBy(async () => {
      // 140 texts of Prisma's own (its raw path goes through the adapter's name generator too).
      for (let shape = 0; shape < 140; shape += 1) await prisma.$queryRawUnsafe(`SELECT ${shape} AS shape_${shape}`);
      await plainQuery(prisma)('SELECT 1 AS after_prisma_filled_its_share', []);
    });
    const shapes = sent.filter((statement) => /AS shape_\d+$/.test(statement.text));
    expect(shapes).toHaveLength(140);
    expect(shapes.filter((statement) => statement.name !== undefined).length).toBeLessThanOrEqual(128);
    expect(shapes.at(-1)?.name).toBeUndefined();
    expect(sent.at(-1)?.name).toMatch(/^gatehouse_[0-9a-f]{24}$/);
  });

  it('reports a statement the server cancelled (statement_timeout) as the database being unavailable', async () => {
    const error = await plainQuery(prisma)('SELECT pg_sleep(3)', []).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it('reports a wrong statement as a wrong statement, not an outage', async () => {
    const error = await plainQuery(prisma)('SELECT * FROM no_such_table', []).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});

describe('timestamps on a database whose own time zone is not UTC', () => {
  it('stores the instant given, so what Prisma writes and what pg reads name the same instant', async () => {
    const databaseUrl = await createTestDatabase();
    await applyMigrations(databaseUrl);
    const owner = new pg.Client({ connectionString: databaseUrl });
    await owner.connect();
    await owner.query(`ALTER DATABASE ${owner.escapeIdentifier(new URL(databaseUrl).pathname.slice(1))} SET timezone = 'Asia/Kolkata'`);
    await owner.end();
    const prisma = createPrismaClient(databaseUrl, { queryTimeout: 5, connectTimeout: 5 });
    try {
      const at = new Date('2026-01-02T03:04:05.678Z');
      await prisma.loginCounter.create({ data: { key: 'tz', count: 1, expiresAt: at } });
      const [row] = await plainQuery(prisma)<{ expires_at: Date; epoch: number; zone: string }>(
        `SELECT expires_at, extract(epoch FROM expires_at)::float8 AS epoch, current_setting('TimeZone') AS zone
           FROM login_counters WHERE key = $1`,
        ['tz'],
      );
      expect(row?.zone).toBe('UTC');
      expect(row?.expires_at.toISOString()).toBe(at.toISOString());
      expect(row?.epoch).toBe(at.getTime() / 1000);
      expect((await prisma.loginCounter.findUnique({ where: { key: 'tz' } }))?.expiresAt.toISOString()).toBe(at.toISOString());
    } finally {
      await prisma.$disconnect();
      await dropTestDatabase(databaseUrl);
    }
  });
});

describe('a new connection of the pool', () => {
  it('is set to UTC before it is handed out, so no statement is queued behind that setting (pg 9 drops such a queue)', async () => {
    const databaseUrl = await createTestDatabase();
    await applyMigrations(databaseUrl);
    const firstStatement = new Map<pg.Client, string>();
    const settingInFlight = new Set<pg.Client>();
    const settings: string[] = [];
    const queuedBehindSetting: string[] = [];
    const query = pg.Client.prototype.query;
    const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
      if (!firstStatement.has(this)) firstStatement.set(this, text);
      if (settingInFlight.has(this)) queuedBehindSetting.push(text);
      const result = (query as (...all: unknown[]) => unknown).apply(this, args);
      if (text.startsWith('SET TIME ZONE')) {
        settings.push(text);
        settingInFlight.add(this);
        (result as Promise<unknown>).then(
          () => settingInFlight.delete(this),
          () => settingInFlight.delete(this),
        );
      }
      return result;
    } as typeof pg.Client.prototype.query);
    const prisma = createPrismaClient(databaseUrl, { queryTimeout: 5, connectTimeout: 5 });
    try {
      // Eight statements at once open several connections, through plainQuery and through Prisma.
      await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? prisma.user.count() : plainQuery(prisma)('SELECT 1', []))));
      expect(settings.length).toBeGreaterThan(1);
      // Every connection's first statement is the setting, and nothing was issued while it ran.
      expect(new Set(firstStatement.values())).toEqual(new Set(["SET TIME ZONE 'UTC'"]));
      expect(queuedBehindSetting).toEqual([]);
    } finally {
      spy.mockRestore();
      await prisma.$disconnect();
      await dropTestDatabase(databaseUrl);
    }
  });
});

describe('the pool behind the Prisma client when the server ends its connections', () => {
  it('survives an idle connection being terminated before Prisma itself has connected, and the next statement reconnects', async () => {
    const databaseUrl = await createTestDatabase();
    const prisma = createPrismaClient(databaseUrl, { queryTimeout: 5, connectTimeout: 5 });
    const killer = createPrismaClient(databaseUrl, { queryTimeout: 5, connectTimeout: 5 });
    try {
      // Only plainQuery has used the pool: the adapter has not added its listener yet.
      const [own] = await plainQuery(prisma)<{ pid: number }>('SELECT pg_backend_pid() AS pid', []);
      const terminated = await killer.$queryRawUnsafe<{ done: boolean }[]>('SELECT pg_terminate_backend($1) AS done', own?.pid);
      expect(terminated[0]?.done).toBe(true);
      // The idle client's 'error' event arrives; without a listener it would end the process.
      await expect
        .poll(
          async () =>
            (await killer.$queryRawUnsafe<{ n: number }[]>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', own?.pid))[0]
              ?.n,
        )
        .toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const [again] = await plainQuery(prisma)<{ one: number }>('SELECT 1 AS one', []);
      expect(again?.one).toBe(1);
    } finally {
      await prisma.$disconnect();
      await killer.$disconnect();
      await dropTestDatabase(databaseUrl);
    }
  });
});
