import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/db/migrate.js';
import { createPrismaClient, isDatabaseUnavailable, plainQuery, type PrismaClient } from '../../src/db/prisma.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';

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
