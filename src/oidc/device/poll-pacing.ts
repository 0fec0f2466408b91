import type { PrismaClient } from '../../db/prisma.js';
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
  return {
    async recordPoll(deviceCode) {
      // In ON CONFLICT DO UPDATE, `p.` is the row before this poll; every SET
      // expression sees those old values. A device code that is gone (deleted
      // meanwhile) records nothing.
      const rows = await prisma.$queryRaw<{ too_early: boolean; interval_seconds: number }[]>`
        INSERT INTO device_code_polls AS p (model, id, last_polled_at, interval_seconds, last_poll_too_early)
        SELECT model, id, now(), ${baseIntervalSeconds}, false
          FROM oidc_payloads WHERE model = 'DeviceCode' AND id = ${storageId(deviceCode)}
        ON CONFLICT (model, id) DO UPDATE SET
          last_poll_too_early = now() < p.last_polled_at + make_interval(secs => p.interval_seconds),
          interval_seconds = CASE
            WHEN now() < p.last_polled_at + make_interval(secs => p.interval_seconds)
            THEN p.interval_seconds + ${SLOW_DOWN_STEP_SECONDS}
            ELSE p.interval_seconds END,
          last_polled_at = now()
        RETURNING last_poll_too_early AS too_early, interval_seconds`;
      const row = rows[0];
      if (!row) return { tooEarly: false, intervalSeconds: baseIntervalSeconds };
      return { tooEarly: row.too_early, intervalSeconds: row.interval_seconds };
    },
  };
}
