import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLoginThrottle, judged, loginDelaySeconds, type LoginThrottle } from '../../src/accounts/login-throttle.js';
import type { PrismaClient } from '../../src/db/prisma.js';
import { deleteExpiredRows } from '../../src/jobs/expired-rows.js';
import { createMigratedDatabase } from '../support/services.js';

describe('sign-in throttle counters in Postgres', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let prisma: PrismaClient;
  let throttle: LoginThrottle;

  beforeAll(async () => {
    database = await createMigratedDatabase();
    prisma = database.prisma;
    throttle = createLoginThrottle(prisma, { freeFailures: 3, firstDelay: 100, maxDelay: 350, ipFailures: 1000 });
  });
  afterAll(() => database?.drop());

  /** Lets the account's current wait pass, as if its time had come. */
  const waitOut = () =>
    prisma.$executeRawUnsafe(`UPDATE login_counters SET blocked_until = now() - interval '1 second' WHERE key LIKE 'account:%'`);
  const secondsLeft = async (email: string) =>
    ((await throttle.accountState(email)).delayedUntil?.getTime() ?? Date.now()) / 1000 - Date.now() / 1000;

  it('doubles the wait with each failure after the free ones, up to the maximum', () => {
    const settings = { freeFailures: 5, firstDelay: 1, maxDelay: 900 };
    expect([1, 4, 5, 6, 7, 8].map((failures) => loginDelaySeconds(failures, settings))).toEqual([0, 0, 1, 2, 4, 8]);
    expect(loginDelaySeconds(15, settings)).toBe(900);
    expect(loginDelaySeconds(10_000, settings)).toBe(900);
  });

  it('stores the growing wait, and refuses every attempt during it', async () => {
    const email = 'grace@example.test';
    for (let failure = 1; failure <= 2; failure += 1) {
      const attempt = await throttle.attempt(email, '192.0.2.1');
      if (!attempt.allowed) throw new Error('refused too early');
      expect(await attempt.failed()).toEqual({ delayed: false, failures: failure });
    }
    const third = await throttle.attempt(email, '192.0.2.1');
    if (!third.allowed) throw new Error('refused too early');
    expect(await third.failed()).toEqual({ delayed: true, failures: 3 });
    expect(await secondsLeft(email)).toBeGreaterThan(90);
    expect(await secondsLeft(email)).toBeLessThanOrEqual(100);
    expect(await throttle.attempt('GRACE@example.test ', '198.51.100.1')).toMatchObject({ allowed: false, reason: 'account' });

    await waitOut();
    const fourth = await throttle.attempt(email, '192.0.2.1');
    if (!fourth.allowed) throw new Error('refused after the wait');
    expect(await fourth.failed()).toEqual({ delayed: false, failures: 4 });
    expect(await secondsLeft(email)).toBeGreaterThan(190);
    expect(await secondsLeft(email)).toBeLessThanOrEqual(200);

    await waitOut();
    const fifth = await throttle.attempt(email, '192.0.2.1');
    if (!fifth.allowed) throw new Error('refused after the wait');
    await fifth.failed();
    expect(await secondsLeft(email)).toBeLessThanOrEqual(350);
    expect(await secondsLeft(email)).toBeGreaterThan(340);
  });

  it('gives a withdrawn attempt back to the account and the IP, its wait included, but keeps a wait set since', async () => {
    const email = 'withdrawn@example.test';
    for (let failure = 1; failure <= 2; failure += 1) {
      const attempt = await throttle.attempt(email, '192.0.2.20');
      if (!attempt.allowed) throw new Error('refused too early');
      await attempt.failed();
    }
    // The third attempt's reservation starts the account's wait; withdrawn, it never happened.
    const third = await throttle.attempt(email, '192.0.2.20');
    if (!third.allowed) throw new Error('refused too early');
    expect((await throttle.accountState(email)).delayedUntil).not.toBeNull();
    await third.withdrawn();
    expect(await throttle.accountState(email)).toEqual({ failures: 2, delayedUntil: null });

    // A wait that another attempt set meanwhile stays.
    const again = await throttle.attempt(email, '192.0.2.20');
    if (!again.allowed) throw new Error('refused after the withdrawal');
    const accountKey = `account:${createHash('sha256').update(email).digest('base64url')}`;
    await prisma.$executeRaw`UPDATE login_counters SET blocked_until = now() + interval '1 hour' WHERE key = ${accountKey}`;
    await again.withdrawn();
    expect((await throttle.accountState(email)).failures).toBe(2);
    expect(await secondsLeft(email)).toBeGreaterThan(3500);

    // The IP's attempts come back too: with a limit of one, a withdrawn attempt leaves room for the next.
    const limited = createLoginThrottle(prisma, { freeFailures: 100, firstDelay: 1, maxDelay: 1, ipFailures: 1 });
    const first = await limited.attempt('e@example.test', '192.0.2.21');
    if (!first.allowed) throw new Error('refused');
    await first.withdrawn();
    const second = await limited.attempt('e@example.test', '192.0.2.21');
    if (!second.allowed) throw new Error('the withdrawn attempt was not given back to the IP');
    await second.failed();
    expect(await limited.attempt('e@example.test', '192.0.2.21')).toMatchObject({ allowed: false, reason: 'ip' });
  });

  it('gives the attempt back when the password check throws instead of answering, and passes the error on', async () => {
    const email = 'refused-by-server@example.test';
    const refused = await throttle.attempt(email, '192.0.2.22');
    if (!refused.allowed) throw new Error('refused');
    const busy = new Error('too many sign-ins at once');
    await expect(judged(refused, () => Promise.reject(busy))).rejects.toBe(busy);
    expect(await throttle.accountState(email)).toEqual({ failures: 0, delayedUntil: null });

    const answered = await throttle.attempt(email, '192.0.2.22');
    if (!answered.allowed) throw new Error('refused');
    expect(await judged(answered, async () => null)).toBeNull();
    await answered.failed();
    expect((await throttle.accountState(email)).failures).toBe(1);
  });

  it('lets only the free attempts through when guesses arrive in parallel', async () => {
    const attempts = await Promise.all(Array.from({ length: 12 }, () => throttle.attempt('parallel@example.test', '192.0.2.2')));
    expect(attempts.filter((attempt) => attempt.allowed)).toHaveLength(3);
  });

  it('forgets counters once they expire, and the cleanup deletes them', async () => {
    const attempt = await throttle.attempt('old@example.test', '192.0.2.3');
    if (!attempt.allowed) throw new Error('refused');
    await attempt.failed();
    await prisma.$executeRawUnsafe(
      `UPDATE login_counters SET expires_at = now() - interval '1 second', blocked_until = now() + interval '1 hour'`,
    );
    expect(await throttle.accountState('old@example.test')).toEqual({ failures: 0, delayedUntil: null });
    expect((await throttle.attempt('grace@example.test', '192.0.2.1')).allowed).toBe(true);
    expect(await deleteExpiredRows(prisma, { pauseMs: 0 })).toBeGreaterThan(0);
    expect(await prisma.loginCounter.count({ where: { expiresAt: { lt: new Date() } } })).toBe(0);
  });

  it('refuses an IP after its failures for the hour, and counts a right password as none', async () => {
    const limited = createLoginThrottle(prisma, { freeFailures: 100, firstDelay: 1, maxDelay: 1, ipFailures: 2 });
    const ok = await limited.attempt('a@example.test', '192.0.2.9');
    if (!ok.allowed) throw new Error('refused');
    await ok.succeeded();
    for (const email of ['b@example.test', 'c@example.test']) {
      const attempt = await limited.attempt(email, '192.0.2.9');
      if (!attempt.allowed) throw new Error('refused');
      await attempt.failed();
    }
    const refused = await limited.attempt('d@example.test', '192.0.2.9');
    expect(refused).toMatchObject({ allowed: false, reason: 'ip' });
    if (refused.allowed) return;
    expect(refused.retryAfterSeconds).toBeGreaterThan(3500);
    expect((await limited.attempt('d@example.test', '192.0.2.10')).allowed).toBe(true);
  });
});
