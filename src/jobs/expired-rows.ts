import { setTimeout as sleep } from 'node:timers/promises';
import type { PrismaClient } from '../db/prisma.js';
import type { Logger } from '../log.js';
import { runPeriodically, type PeriodicJob } from './run-periodically.js';

// Expired rows are kept a little while so oidc-provider can still answer
// "expired" (e.g. RFC 8628 §3.5 expired_token) rather than "not found".
const GRACE_SECONDS = 3600;

/** How a cleanup pass paces itself. */
export interface CleanupPace {
  /** Rows per DELETE statement (each its own short transaction). */
  readonly batchSize?: number;
  /** Milliseconds to wait between statements, leaving the database and the event loop to requests. */
  readonly pauseMs?: number;
  /** Stops the pass between two statements (shutdown). */
  readonly signal?: AbortSignal;
}

const DEFAULT_BATCH = 5000;
const DEFAULT_PAUSE_MS = 10;

/** A table whose rows end: the column that says when, and how long after that they stay. */
interface Expiring {
  readonly table: string;
  readonly column: string;
  readonly keepSeconds: number;
}

// Refresh-token successors go first, as soon as their retry window passes;
// they also go with their consumed token's row (ON DELETE CASCADE), as device
// code polls go with their device code.
const EXPIRING: readonly Expiring[] = [
  { table: 'refresh_token_successors', column: 'expires_at', keepSeconds: 0 },
  { table: 'oidc_payloads', column: 'expires_at', keepSeconds: GRACE_SECONDS },
  { table: 'login_counters', column: 'expires_at', keepSeconds: 0 },
  { table: 'account_tokens', column: 'expires_at', keepSeconds: 0 },
  { table: 'session_activity', column: 'expires_at', keepSeconds: 0 },
  { table: 'mfa_pending_logins', column: 'expires_at', keepSeconds: 0 },
  { table: 'webauthn_challenges', column: 'expires_at', keepSeconds: 0 },
  { table: 'console_sessions', column: 'expires_at', keepSeconds: 0 },
];

/**
 * Deletes the rows of `target` older than `cutoff`, `batchSize` at a time:
 * each statement walks the index on the expiry column from the oldest row and
 * stops after a batch (never a scan of the table), is its own transaction
 * (locks held for one batch only), and skips rows a request holds locked
 * (SKIP LOCKED: the pass never waits for a request; the next pass gets them).
 * Between statements it pauses, so requests are served during a long pass.
 * Table and column names are constants of this module, never input.
 */
async function deleteInBatches(prisma: PrismaClient, target: Expiring, cutoff: Date, pace: CleanupPace): Promise<number> {
  const batchSize = pace.batchSize ?? DEFAULT_BATCH;
  const { table, column } = target;
  const statement = `DELETE FROM ${table} WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM ${table} WHERE ${column} < $1 ORDER BY ${column} LIMIT $2 FOR UPDATE SKIP LOCKED))`;
  let total = 0;
  for (;;) {
    if (pace.signal?.aborted) return total;
    const deleted = await prisma.$executeRawUnsafe(statement, cutoff, batchSize);
    total += deleted;
    if (deleted < batchSize) return total;
    await sleep(pace.pauseMs ?? DEFAULT_PAUSE_MS);
  }
}

/** The database's clock, read once per pass: every cutoff of the pass is fixed from it, so a pass ends. */
async function databaseNow(prisma: PrismaClient): Promise<Date> {
  const [row] = await prisma.$queryRaw<{ now: Date }[]>`SELECT now() AS now`;
  return row?.now ?? new Date();
}

/** Deletes expired protocol rows, counters, links and challenges in bounded batches; returns how many. */
export async function deleteExpiredRows(prisma: PrismaClient, pace: CleanupPace = {}): Promise<number> {
  const now = await databaseNow(prisma);
  let total = 0;
  for (const target of EXPIRING) {
    total += await deleteInBatches(prisma, target, new Date(now.getTime() - target.keepSeconds * 1000), pace);
  }
  return total;
}

/** Deletes audit events older than the retention (GATEHOUSE_EVENT_RETENTION) in bounded batches; returns how many. */
export async function deleteOldEvents(prisma: PrismaClient, retentionSeconds: number, pace: CleanupPace = {}): Promise<number> {
  const now = await databaseNow(prisma);
  const target = { table: 'events', column: 'occurred_at', keepSeconds: retentionSeconds };
  return deleteInBatches(prisma, target, new Date(now.getTime() - retentionSeconds * 1000), pace);
}

/** Runs deleteExpiredRows (and the events' retention) every `intervalSeconds`; stopping ends a pass between two batches. */
export function scheduleExpiredRowCleanup(
  prisma: PrismaClient,
  intervalSeconds: number,
  log: Logger,
  options: { eventRetentionSeconds?: number } = {},
): PeriodicJob {
  const stopping = new AbortController();
  const pace = { signal: stopping.signal };
  const job = runPeriodically(
    'cleanup',
    intervalSeconds,
    async () => {
      const deleted =
        (await deleteExpiredRows(prisma, pace)) +
        (options.eventRetentionSeconds ? await deleteOldEvents(prisma, options.eventRetentionSeconds, pace) : 0);
      if (deleted > 0) log.info(`cleanup: deleted ${deleted} expired rows`);
    },
    log,
  );
  return {
    async stop() {
      stopping.abort();
      await job.stop();
    },
  };
}
