import { plainQuery, type PrismaClient } from '../../db/prisma.js';
import { storageId } from '../prisma-adapter.js';

/** RFC 8628 §3.5: each slow_down adds 5 seconds to the interval, for this and all later requests. */
export const SLOW_DOWN_STEP_SECONDS = 5;

export interface PollOutcome {
  /** The device polled before its interval had passed: answer slow_down. */
  readonly tooEarly: boolean;
  /** The interval the device must keep from now on. */
  readonly intervalSeconds: number;
}

export interface DevicePollPacing {
  /**
   * Records a poll of a pending device code and says whether it came too early.
   * Atomic (one statement) and kept in Postgres, so polls spread over several
   * instances are paced as one device.
   */
  recordPoll(deviceCode: string): Promise<PollOutcome>;
}

/**
 * Poll pacing for device codes, in `device_code_polls` (deleted with the
 * device code row by a foreign key). Times are the database's, so instances
 * with skewed clocks agree.
 */
export function createDevicePollPacing(prisma: PrismaClient, baseIntervalSeconds: number): DevicePollPacing {
  // Straight through the client's pg pool, prepared: every poll of every device sends it.
  const query = plainQuery(prisma);
  return {
    async recordPoll(deviceCode) {
      const rows = await query<{ too_early: boolean; interval_seconds: number }>(RECORD_POLL, [
        storageId(deviceCode),
        baseIntervalSeconds,
        SLOW_DOWN_STEP_SECONDS,
      ]);
      const row = rows[0];
      if (!row) return { tooEarly: false, intervalSeconds: baseIntervalSeconds };
      return { tooEarly: row.too_early, intervalSeconds: row.interval_seconds };
    },
  };
}

// In ON CONFLICT DO UPDATE, `p.` is the row before this poll; every SET
// expression sees those old values. A device code that is gone (deleted
// meanwhile) records nothing. $1 the device code's storage id, $2 the base
// interval, $3 the slow_down step, in seconds.
const RECORD_POLL = `
  INSERT INTO device_code_polls AS p (model, id, last_polled_at, interval_seconds, last_poll_too_early)
  SELECT model, id, now(), $2::int, false
    FROM oidc_payloads WHERE model = 'DeviceCode' AND id = $1
  ON CONFLICT (model, id) DO UPDATE SET
    last_poll_too_early = now() < p.last_polled_at + make_interval(secs => p.interval_seconds),
    interval_seconds = CASE
      WHEN now() < p.last_polled_at + make_interval(secs => p.interval_seconds)
      THEN p.interval_seconds + $3::int
      ELSE p.interval_seconds END,
    last_polled_at = now()
  RETURNING last_poll_too_early AS too_early, interval_seconds`;
