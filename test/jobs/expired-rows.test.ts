import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpiredRows, deleteOldEvents } from '../../src/jobs/expired-rows.js';
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
