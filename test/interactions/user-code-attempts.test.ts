import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from '../../src/db/prisma.js';
import { attemptSubjects, createUserCodeAttemptLimiter, type UserCodeAttemptLimiter } from '../../src/interactions/user-code-attempts.js';
import { createMigratedDatabase } from '../support/services.js';

describe('wrong user code limit (RFC 8628 §5.1)', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let prisma: PrismaClient;
  let limiter: UserCodeAttemptLimiter;

  beforeAll(async () => {
    database = await createMigratedDatabase();
    prisma = database.prisma;
    limiter = createUserCodeAttemptLimiter(prisma, { attempts: 2, windowSeconds: 60 });
  });
  afterAll(() => database?.drop());

  it('counts against the IP and the session, stored hashed', () => {
    const subjects = attemptSubjects({ ip: '203.0.113.9', sessionId: 'session-abc' });
    expect(subjects).toHaveLength(2);
    expect(subjects[0]).toMatch(/^ip:[\w-]{43}$/);
    expect(subjects[1]).toMatch(/^session:[\w-]{43}$/);
    expect(subjects.join(' ')).not.toContain('203.0.113.9');
    expect(attemptSubjects({ ip: '203.0.113.9', sessionId: undefined })).toEqual([subjects[0]]);
  });

  it('locks out an IP after the allowed number of wrong codes, whatever the session', async () => {
    const ip = '198.51.100.1';
    await limiter.recordFailure({ ip, sessionId: 'one' });
    expect(await limiter.isLockedOut({ ip, sessionId: 'two' })).toBe(false);
    await limiter.recordFailure({ ip, sessionId: 'two' });
    expect(await limiter.isLockedOut({ ip, sessionId: 'three' })).toBe(true);
    expect(await limiter.isLockedOut({ ip: '198.51.100.2', sessionId: 'three' })).toBe(false);
  });

  it('locks out a session after the allowed number of wrong codes, whatever the IP', async () => {
    await limiter.recordFailure({ ip: '192.0.2.1', sessionId: 'roaming' });
    await limiter.recordFailure({ ip: '192.0.2.2', sessionId: 'roaming' });
    expect(await limiter.isLockedOut({ ip: '192.0.2.3', sessionId: 'roaming' })).toBe(true);
  });

  it('forgets failures older than the window, and deletes them', async () => {
    const entrant = { ip: '192.0.2.77', sessionId: undefined };
    await limiter.recordFailure(entrant);
    await limiter.recordFailure(entrant);
    expect(await limiter.isLockedOut(entrant)).toBe(true);
    await prisma.$executeRawUnsafe(`UPDATE user_code_failures SET failed_at = failed_at - interval '61 seconds'`);
    expect(await limiter.isLockedOut(entrant)).toBe(false);
    await limiter.recordFailure({ ip: '192.0.2.78', sessionId: undefined });
    expect(await prisma.userCodeFailure.count()).toBe(1);
  });
});
