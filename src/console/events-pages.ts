import type { z } from 'zod';
import type { eventPage } from '../admin/events/schema.js';
import { EVENT_TYPES } from '../audit/events.js';
import { AppError } from '../http/errors.js';
import { showDate } from './console-format.js';
import type { ConsoleOperations } from './console-operations.js';
import type { ConsoleArea } from './console-routes.js';

/** "2026-11-30T10:00" from a datetime-local field → an ISO instant (UTC), or a sentence saying what is wrong. */
function instantOf(value: string, label: string): string | undefined {
  if (!value) return undefined;
  const parsed = new Date(/Z|[+-]\d\d:\d\d$/.test(value) ? value : `${value}Z`);
  if (Number.isNaN(parsed.getTime()))
    throw new AppError(400, 'invalid_request', `${label} must be a date and time, such as 2026-11-30T09:00`);
  return parsed.toISOString();
}

/** /console/events: the audit log, filtered by type, actor, subject and time, newest first, a page at a time. */
export function eventPages(deps: { readonly operations: ConsoleOperations }): ConsoleArea {
  return {
    get: {
      '/events': async (page) => {
        const text = (name: string) => (typeof page.ctx.query[name] === 'string' ? (page.ctx.query[name] as string).trim() : '');
        const filter = { type: text('type'), actor: text('actor'), subject: text('subject'), since: text('since'), until: text('until') };
        const cursor = text('cursor');
        if (filter.type && !(EVENT_TYPES as readonly string[]).includes(filter.type)) {
          throw new AppError(400, 'invalid_request', `${filter.type} is not an event type`);
        }
        const found = await deps.operations.run<z.infer<typeof eventPage>>('listEvents', page.admin, {
          query: {
            limit: '50',
            ...(filter.type ? { type: filter.type } : {}),
            ...(filter.actor ? { actor: filter.actor } : {}),
            ...(filter.subject ? { subject: filter.subject } : {}),
            ...(filter.since ? { since: instantOf(filter.since, 'From') } : {}),
            ...(filter.until ? { until: instantOf(filter.until, 'Until') } : {}),
            ...(cursor ? { cursor } : {}),
          },
        });
        const kept = Object.fromEntries(Object.entries(filter).filter(([, value]) => value));
        page.render('events', {
          title: 'Audit log',
          area: '/console/events',
          ...filter,
          types: EVENT_TYPES.map((type) => ({ type, selected: type === filter.type })),
          events: found.data.map((event) => ({
            ...event,
            when: showDate(event.occurred_at),
            detailText: JSON.stringify(event.details ?? {}),
            actorHref: `/console/events?${new URLSearchParams({ actor: event.actor ?? '' })}`,
          })),
          next: found.next_cursor ? `/console/events?${new URLSearchParams({ ...kept, cursor: found.next_cursor })}` : undefined,
        });
      },
    },
  };
}
