import { Prisma, type PrismaClient } from '../db/prisma.js';

/** A logout token still to deliver (table backchannel_logouts). */
export interface PendingLogout {
  readonly id: bigint;
  readonly clientId: string;
  readonly accountId: string;
  readonly sid: string | null;
  /** Deliveries tried, this one included. */
  readonly attempts: number;
}

export interface LogoutToQueue {
  readonly clientId: string;
  readonly accountId: string;
  readonly sid: string | undefined;
}

type Db = Pick<Prisma.TransactionClient, '$queryRaw' | '$executeRaw'>;

/** Which of a user's oidc_payloads rows end. */
export type EndingRows =
  /** Every session, grant and token of the user, but the Session row `exceptSessionUid` if given. */
  | { readonly everything: true; readonly exceptSessionUid?: string }
  /** Only the user's Session row with this uid (grants and tokens stay). */
  | { readonly session: string }
  /** Only the user's Session rows but the one with this uid (grants and tokens stay). */
  | { readonly sessionsExcept: string };

/**
 * Ends every session, grant and token of a user (the oidc_payloads rows with
 * its accountId) and, in the same statement, queues a logout token for each
 * client of each ended session that registered a back-channel logout URI.
 * Run it inside the transaction that disables, deletes or re-passwords the
 * user: the sessions end and the apps are told, or neither.
 */
export async function endSessionsQueueingLogouts(
  db: Db,
  accountId: string,
  exceptSessionUid?: string,
): Promise<{ removed: number; queued: number }> {
  // The account page's own password change keeps the browser session that made it.
  return endRowsQueueingLogouts(
    db,
    accountId,
    exceptSessionUid === undefined ? { everything: true } : { everything: true, exceptSessionUid },
  );
}

/**
 * Deletes the user's `rows` and, in the same statement, queues a logout token
 * for each client of each ended Session row that registered a back-channel
 * logout URI (Back-Channel Logout 1.0 §2.7: the OP tells every RP with a
 * session at the OP when that session ends). `removed` counts the deleted rows.
 */
export async function endRowsQueueingLogouts(db: Db, accountId: string, rows: EndingRows): Promise<{ removed: number; queued: number }> {
  const ending =
    'everything' in rows
      ? Prisma.sql`payload->>'accountId' = ${accountId} AND NOT (model = 'Session' AND uid IS NOT DISTINCT FROM ${rows.exceptSessionUid ?? null}::text)`
      : 'session' in rows
        ? Prisma.sql`model = 'Session' AND uid = ${rows.session} AND payload->>'accountId' = ${accountId}`
        : Prisma.sql`model = 'Session' AND payload->>'accountId' = ${accountId} AND uid IS DISTINCT FROM ${rows.sessionsExcept}`;
  const [counts] = await db.$queryRaw<{ removed: number; queued: number }[]>`
    WITH ended AS (
      DELETE FROM oidc_payloads WHERE ${ending}
      RETURNING model, payload
    ), queued AS (
      INSERT INTO backchannel_logouts (client_id, account_id, sid)
      SELECT authorization_entry.key, ${accountId}, authorization_entry.value->>'sid'
        FROM ended
        CROSS JOIN LATERAL jsonb_each(
          CASE WHEN jsonb_typeof(ended.payload->'authorizations') = 'object' THEN ended.payload->'authorizations' ELSE '{}'::jsonb END
        ) AS authorization_entry
        -- LATERAL ... LIMIT 1: one primary-key lookup per client of the ended
        -- sessions, never a scan of every client (test/db/query-plans.test.ts).
        CROSS JOIN LATERAL (
          SELECT 1 FROM clients
           WHERE clients.id = authorization_entry.key AND clients.metadata ? 'backchannel_logout_uri' LIMIT 1
        ) AS logout_client
       WHERE ended.model = 'Session'
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM ended)::int AS removed, (SELECT count(*) FROM queued)::int AS queued`;
  return counts ?? { removed: 0, queued: 0 };
}

export function createLogoutOutbox(prisma: PrismaClient) {
  return {
    /** Queues one logout token (the logout page's path). */
    async queue(logout: LogoutToQueue): Promise<void> {
      await prisma.$executeRaw`INSERT INTO backchannel_logouts (client_id, account_id, sid) VALUES (${logout.clientId}, ${logout.accountId}, ${logout.sid ?? null})`;
    },

    /**
     * Claims up to `limit` due deliveries for `leaseSeconds`: another instance
     * skips them (SKIP LOCKED now, the lease after), and a crash mid-delivery
     * only delays them by the lease.
     */
    async claimDue(limit: number, leaseSeconds: number): Promise<PendingLogout[]> {
      const rows = await prisma.$queryRaw<{ id: bigint; client_id: string; account_id: string; sid: string | null; attempts: number }[]>`
        UPDATE backchannel_logouts
           SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => ${leaseSeconds})
         WHERE id IN (
           SELECT id FROM backchannel_logouts WHERE next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING id, client_id, account_id, sid, attempts`;
      return rows.map((row) => ({ id: row.id, clientId: row.client_id, accountId: row.account_id, sid: row.sid, attempts: row.attempts }));
    },

    /** Delivered, given up, or no longer deliverable. */
    async forget(id: bigint): Promise<void> {
      await prisma.$executeRaw`DELETE FROM backchannel_logouts WHERE id = ${id}`;
    },

    async retryIn(id: bigint, seconds: number): Promise<void> {
      await prisma.$executeRaw`UPDATE backchannel_logouts SET next_attempt_at = now() + make_interval(secs => ${seconds}) WHERE id = ${id}`;
    },
  };
}

export type LogoutOutbox = ReturnType<typeof createLogoutOutbox>;
