import type { PrismaClient } from '../db/prisma.js';
import type { Logger } from '../log.js';
import { deleteExpiredSuccessors } from '../oidc/refresh-token-successors.js';
import { runPeriodically, type PeriodicJob } from './run-periodically.js';

// Expired rows are kept a little while so oidc-provider can still answer
// "expired" (e.g. RFC 8628 §3.5 expired_token) rather than "not found".
const GRACE = "1 hour";
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

/** Runs deleteExpiredRows every `intervalSeconds`. */
export function scheduleExpiredRowCleanup(prisma: PrismaClient, intervalSeconds: number, log: Logger): PeriodicJob {
  return runPeriodically('cleanup', intervalSeconds, async () => {
    const deleted = await deleteExpiredRows(prisma);
    if (deleted > 0) log.info(`cleanup: deleted ${deleted} expired rows`);
  }, log);
}
