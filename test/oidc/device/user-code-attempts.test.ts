import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PrismaClient } from '../../../src/db/prisma.js';
import { attemptSubjects, createUserCodeAttemptLimiter, type UserCodeAttemptLimiter } from '../../../src/oidc/device/user-code-attempts.js';
import { createMigratedDatabase } from '../../support/services.js';

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

  /** A wrong entry: its reserved attempt is kept. */
  const wrong = async (entrant: { ip: string; sessionId: string | undefined }) => {
    expect((await limiter.reserve(entrant)).allowed).toBe(true);
  };
  const lockedOut = async (entrant: { ip: string; sessionId: string | undefined }) => {
    const attempt = await limiter.reserve(entrant);
    if (attempt.allowed) await attempt.release();
    return !attempt.allowed;
  };

  it('locks out an IP after the allowed number of wrong codes, whatever the session', async () => {
    const ip = '198.51.100.1';
    await wrong({ ip, sessionId: 'one' });
    expect(await lockedOut({ ip, sessionId: 'two' })).toBe(false);
    await wrong({ ip, sessionId: 'two' });
    expect(await lockedOut({ ip, sessionId: 'three' })).toBe(true);
    expect(await lockedOut({ ip: '198.51.100.2', sessionId: 'three' })).toBe(false);
  });

  it('locks out a session after the allowed number of wrong codes, whatever the IP', async () => {
    await wrong({ ip: '192.0.2.1', sessionId: 'roaming' });
    await wrong({ ip: '192.0.2.2', sessionId: 'roaming' });
    expect(await lockedOut({ ip: '192.0.2.3', sessionId: 'roaming' })).toBe(true);
  });

  it('gives a right code its attempt back', async () => {
    const entrant = { ip: '192.0.2.50', sessionId: undefined };
    for (let i = 0; i < 5; i += 1) {
      const attempt = await limiter.reserve(entrant);
      expect(attempt.allowed).toBe(true);
      if (attempt.allowed) await attempt.release();
    }
  });

  it('counts concurrent guesses: of many at once, only the allowed number get through', async () => {
    const many = createUserCodeAttemptLimiter(prisma, { attempts: 10, windowSeconds: 60 });
    const results = await Promise.all(Array.from({ length: 40 }, () => many.reserve({ ip: '192.0.2.99', sessionId: 'burst' })));
    expect(results.filter((result) => result.allowed)).toHaveLength(10);
  });

  it('forgets failures older than the window, and deletes them', async () => {
    const entrant = { ip: '192.0.2.77', sessionId: undefined };
    await wrong(entrant);
    await wrong(entrant);
    expect(await lockedOut(entrant)).toBe(true);
    await prisma.$executeRawUnsafe(`UPDATE user_code_failures SET failed_at = failed_at - interval '61 seconds'`);
    expect(await lockedOut(entrant)).toBe(false);
    await wrong({ ip: '192.0.2.78', sessionId: undefined });
    expect(await prisma.userCodeFailure.count()).toBe(1);
  });
});
