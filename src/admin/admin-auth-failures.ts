import type { AuditContext, AuditLog } from '../audit/events.js';
import { createRepeatedEventLog } from '../audit/repeated-events.js';
import { ipCounterKey, type RequestCounters } from '../http/request-counters.js';

const WINDOW_SECONDS = 60;

/**
 * Failed admin authentications: at most `limit` per client IP per minute are
 * looked at (more get 429 unchecked), and each IP's failures in a minute are
 * one audit event with a count, so junk tokens cannot grow the log.
 */
export function createAdminAuthFailures(counters: RequestCounters, audit: AuditLog, limit: number) {
  const events = createRepeatedEventLog(counters, audit, WINDOW_SECONDS);
  return {
    /** Seconds to wait when this IP has used up its failures for the minute; undefined when it may try. */
    async retryAfter(ip: string): Promise<number | undefined> {
      const { count, retryAfterSeconds } = await counters.peek(ipCounterKey('admin-auth', ip));
      return count >= limit ? retryAfterSeconds : undefined;
    },

    async record(context: AuditContext, reason: string): Promise<void> {
      await counters.hit(ipCounterKey('admin-auth', context.clientIp ?? ''), WINDOW_SECONDS);
      await events.record(context, { type: 'admin.authentication_failed', details: { reason } });
    },
  };
}

export type AdminAuthFailures = ReturnType<typeof createAdminAuthFailures>;
