import { deleteExpiredSessionActivity } from '../account/session-activity.js';
import { deleteExpiredConsoleSessions } from '../console/console-session.js';
import { deleteExpiredAccountTokens } from '../accounts/account-tokens.js';
import { deleteExpiredLoginCounters } from '../accounts/login-throttle.js';
import type { PrismaClient } from '../db/prisma.js';
import type { Logger } from '../log.js';
import { deleteExpiredChallenges, deleteExpiredPendingLogins } from '../mfa/mfa-store.js';
import { deleteExpiredSuccessors } from '../oidc/refresh-token-successors.js';
import { runPeriodically, type PeriodicJob } from './run-periodically.js';

// Expired rows are kept a little while so oidc-provider can still answer
// "expired" (e.g. RFC 8628 §3.5 expired_token) rather than "not found".
const GRACE = '1 hour';
const BATCH = 1000;

/** Deletes expired protocol rows in batches; returns how many. */
export async function deleteExpiredRows(prisma: PrismaClient): Promise<number> {
  // Refresh-token successors kept for retries: gone as soon as their window passes.
  let total = await deleteExpiredSuccessors(prisma);
  for (;;) {
    const deleted = await prisma.$executeRawUnsafe(
      `DELETE FROM oidc_payloads WHERE ctid IN (
         SELECT ctid FROM oidc_payloads WHERE expires_at < now() - interval '${GRACE}' LIMIT ${BATCH})`,
    );
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/** Deletes audit events older than the retention (GATEHOUSE_EVENT_RETENTION) in batches; returns how many. */
export async function deleteOldEvents(prisma: PrismaClient, retentionSeconds: number): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await prisma.$executeRaw`
      DELETE FROM events WHERE id IN (
        SELECT id FROM events WHERE occurred_at < now() - ${retentionSeconds}::int * interval '1 second' LIMIT ${BATCH})`;
    total += deleted;
    if (deleted < BATCH) return total;
  }
}

/** Runs deleteExpiredRows (and the counters' and events' cleanup) every `intervalSeconds`. */
export function scheduleExpiredRowCleanup(
  prisma: PrismaClient,
  intervalSeconds: number,
  log: Logger,
  options: { eventRetentionSeconds?: number } = {},
): PeriodicJob {
  return runPeriodically(
    'cleanup',
    intervalSeconds,
    async () => {
      const deleted =
        (await deleteExpiredRows(prisma)) +
        (await deleteExpiredLoginCounters(prisma)) +
        (await deleteExpiredAccountTokens(prisma)) +
        (await deleteExpiredSessionActivity(prisma)) +
        (await deleteExpiredConsoleSessions(prisma)) +
        (await deleteExpiredPendingLogins(prisma)) +
        (await deleteExpiredChallenges(prisma)) +
        (options.eventRetentionSeconds ? await deleteOldEvents(prisma, options.eventRetentionSeconds) : 0);
      if (deleted > 0) log.info(`cleanup: deleted ${deleted} expired rows`);
    },
    log,
  );
}
