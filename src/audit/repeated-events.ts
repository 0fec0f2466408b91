import { ipCounterKey, type RequestCounters } from '../http/request-counters.js';
import type { AuditContext, AuditLog, NewEvent } from './events.js';

/**
 * Events anyone can cause at will (a throttled sign-in, a junk admin token):
 * one row per client IP per window with a `count`, so repeating them cannot
 * grow the audit log faster than one row a minute per address.
 */
export function createRepeatedEventLog(counters: RequestCounters, audit: AuditLog, windowSeconds = 60) {
  return {
    async record(context: AuditContext, event: NewEvent): Promise<void> {
      const ip = context.clientIp ?? '';
      const { count, retryAfterSeconds } = await counters.hit(ipCounterKey(`event:${event.type}`, ip), windowSeconds);
      if (count === 1) {
        await audit.record(context, { ...event, details: { ...event.details, count: 1 } });
        return;
      }
      const windowStart = new Date(Date.now() - (windowSeconds - retryAfterSeconds + 1) * 1000);
      await counters.countRepeatedEvent(event.type, ip, windowStart, count);
    },
  };
}

export type RepeatedEventLog = ReturnType<typeof createRepeatedEventLog>;
