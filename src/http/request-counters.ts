import { createHash } from 'node:crypto';
import { type PrismaClient, plainQuery } from '../db/prisma.js';

export interface WindowCount {
  /** Hits in the current window, this one included. */
  readonly count: number;
  /** Seconds until the window ends. */
  readonly retryAfterSeconds: number;
}

/** A client IP as a counter key: hashed, so the table holds no addresses. */
export const ipCounterKey = (purpose: string, ip: string) => `${purpose}:${createHash('sha256').update(ip).digest('base64url')}`;

/**
 * Fixed-window counters per key (per client IP), in the same Postgres table as
 * the sign-in counters, so every instance shares them; a window past its end
 * starts over, and the cleanup job deletes it.
 */
export function createRequestCounters(prisma: PrismaClient) {
  // Through pg (plainQuery): every authorization request counts its flow start.
  const query = plainQuery(prisma);
  return {
    /** Counts one hit for `key` in a window of `windowSeconds`. */
    async hit(key: string, windowSeconds: number): Promise<WindowCount> {
      const rows = await query<{ count: number; seconds: number }>(
        `INSERT INTO login_counters (key, count, expires_at) VALUES ($1, 1, now() + $2::int * interval '1 second')
         ON CONFLICT (key) DO UPDATE SET
           count = CASE WHEN login_counters.expires_at <= now() THEN 1 ELSE login_counters.count + 1 END,
           expires_at = CASE WHEN login_counters.expires_at <= now() THEN now() + $2::int * interval '1 second' ELSE login_counters.expires_at END
         RETURNING count, ceil(extract(epoch FROM expires_at - now()))::int AS seconds`,
        [key, windowSeconds],
      );
      const row = rows[0];
      return { count: row?.count ?? 1, retryAfterSeconds: Math.max(1, row?.seconds ?? windowSeconds) };
    },

    /** The current window's count for `key`, without counting. */
    async peek(key: string): Promise<WindowCount> {
      const rows = await query<{ count: number; seconds: number }>(
        `SELECT count, ceil(extract(epoch FROM expires_at - now()))::int AS seconds FROM login_counters WHERE key = $1 AND expires_at > now()`,
        [key],
      );
      return { count: rows[0]?.count ?? 0, retryAfterSeconds: Math.max(1, rows[0]?.seconds ?? 1) };
    },

    /**
     * Raises `details.count` of the latest event of `type` from `clientIp`
     * since `since`: one audit row per IP and window, however many attempts.
     */
    async countRepeatedEvent(type: string, clientIp: string, since: Date, count: number): Promise<void> {
      await query(
        `UPDATE events SET details = jsonb_set(details, '{count}', to_jsonb($1::int))
          WHERE id = (SELECT id FROM events WHERE type = $2 AND client_ip = $3 AND occurred_at >= $4 ORDER BY id DESC LIMIT 1)`,
        [count, type, clientIp, since],
      );
    },
  };
}

export type RequestCounters = ReturnType<typeof createRequestCounters>;
