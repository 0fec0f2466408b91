import { recordEvent, type AuditContext } from '../audit/events.js';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { endRowsQueueingLogouts } from '../oidc/backchannel-logout-store.js';
import type { SessionUse, SessionUseStatement } from '../oidc/prisma-adapter.js';

export interface BrowserSessionView {
  readonly uid: string;
  readonly signedInAt: Date | null;
  readonly lastSeen: Date | null;
  readonly ip: string | null;
  readonly userAgent: string | null;
}

export interface SessionActivityHooks {
  /** After sessions ended and their back-channel logout tokens were queued: deliver them now (oidc/backchannel-logout.ts). */
  readonly sessionsEnded?: () => void;
}

/**
 * Records where and when a signed-in session was used (at sign-in, and each
 * time the engine saves it again): a data-modifying CTE that the adapter puts
 * before the session's own save (oidc/prisma-adapter.ts), with its parameters
 * numbered from `$first`. One round trip instead of a second statement, and
 * the session and its activity are saved together or not at all.
 */
export function recordSessionUse(use: SessionUse, first: number): SessionUseStatement {
  const [uid, accountId, ip, userAgent, lastSeen, expiresAt] = [0, 1, 2, 3, 4, 5].map((offset) => `$${first + offset}`);
  return {
    cte: `session_use AS (
      INSERT INTO session_activity (session_uid, account_id, ip, user_agent, last_seen, expires_at)
      VALUES (${uid}, ${accountId}, ${ip}, ${userAgent}, ${lastSeen}, ${expiresAt})
      ON CONFLICT (session_uid) DO UPDATE SET account_id = EXCLUDED.account_id, ip = EXCLUDED.ip, user_agent = EXCLUDED.user_agent,
        last_seen = EXCLUDED.last_seen, expires_at = EXCLUDED.expires_at)`,
    values: [use.uid, use.accountId, use.ip.slice(0, 100), use.userAgent.slice(0, 300), new Date(), use.expiresAt],
  };
}

/**
 * A user's signed-in browser sessions (oidc-provider's Session rows) with where
 * and when each was last used, and ending them.
 */
export function createSessionActivityStore(prisma: PrismaClient, hooks: SessionActivityHooks = {}) {
  return {
    /** The account's live sessions, most recently used first. */
    async listSessions(accountId: string): Promise<BrowserSessionView[]> {
      const rows = await prisma.$queryRaw<
        { uid: string; login_ts: number | null; last_seen: Date | null; ip: string | null; user_agent: string | null }[]
      >`
        SELECT p.uid, (p.payload->>'loginTs')::bigint AS login_ts, a.last_seen, a.ip, a.user_agent
        FROM oidc_payloads p LEFT JOIN session_activity a ON a.session_uid = p.uid
        WHERE p.model = 'Session' AND p.payload->>'accountId' = ${accountId} AND p.uid IS NOT NULL
          AND (p.expires_at IS NULL OR p.expires_at > now())
        ORDER BY a.last_seen DESC NULLS LAST, p.uid`;
      return rows.map((row) => ({
        uid: row.uid,
        signedInAt: row.login_ts ? new Date(Number(row.login_ts) * 1000) : null,
        lastSeen: row.last_seen,
        ip: row.ip,
        userAgent: row.user_agent,
      }));
    },

    /**
     * Ends one of the account's sessions (that browser must sign in again), or
     * each of several; whether there was one. Audited `user.sessions_revoked`
     * (actor: whoever ended it), one event per ended session, in the same
     * transaction: the sessions end and the events are written, or neither.
     * `alongside` runs first in the same transaction (the console's sign-out
     * ends its own session with it).
     */
    async endSession(
      accountId: string,
      uids: string | readonly string[],
      audit: AuditContext,
      alongside?: (tx: Prisma.TransactionClient) => Promise<unknown>,
    ): Promise<boolean> {
      const ended = await prisma.$transaction(async (tx) => {
        await alongside?.(tx);
        const total = { removed: 0, queued: 0 };
        for (const uid of new Set([uids].flat())) {
          // The apps that signed in through it are told, in the same statement (Back-Channel Logout 1.0 §2.7).
          const { removed, queued } = await endRowsQueueingLogouts(tx, accountId, { session: uid });
          await tx.sessionActivity.deleteMany({ where: { sessionUid: uid } });
          if (removed > 0) {
            await recordEvent(tx, audit, { type: 'user.sessions_revoked', subject: accountId, details: { removed, session: uid } });
          }
          total.removed += removed;
          total.queued += queued;
        }
        return total;
      });
      // After the commit: a rolled-back transaction queued nothing.
      if (ended.queued > 0) hooks.sessionsEnded?.();
      return ended.removed > 0;
    },

    /** Ends all the account's sessions but `keepUid`; how many. Audited like endSession, in the same transaction. */
    async endOtherSessions(accountId: string, keepUid: string, audit: AuditContext): Promise<number> {
      const ended = await prisma.$transaction(async (tx) => {
        const { removed, queued } = await endRowsQueueingLogouts(tx, accountId, { sessionsExcept: keepUid });
        await tx.sessionActivity.deleteMany({ where: { accountId, sessionUid: { not: keepUid } } });
        if (removed > 0) {
          await recordEvent(tx, audit, { type: 'user.sessions_revoked', subject: accountId, details: { removed, kept: keepUid } });
        }
        return { removed, queued };
      });
      if (ended.queued > 0) hooks.sessionsEnded?.();
      return ended.removed;
    },
  };
}

export type SessionActivityStore = ReturnType<typeof createSessionActivityStore>;
