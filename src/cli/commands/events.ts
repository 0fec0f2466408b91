import { EVENT_TYPES } from '../../audit/events.js';
import { fetchPages } from '../admin-api.js';
import { PAGING_OPTIONS, pagingFrom, secondsFrom, text, type Command } from './command.js';

/** `--since`: an ISO 8601 date-time, or how long ago (`15m`, `12h`, `7d`). */
function sinceFrom(value: unknown, now = Date.now()): string | undefined {
  const since = text(value);
  if (since === undefined || !/^\d+[smhd]?$/.test(since.trim())) return since;
  const seconds = secondsFrom('since', since, 3650 * 86400) ?? 0;
  return new Date(now - seconds * 1000).toISOString();
}

/** The audit log, as the admin API's GET /events. */
export const eventsCommands: Record<string, Command> = {
  'events list': {
    summary: 'The audit log, newest first (filter by type and time)',
    usage: 'events list [--type TYPE] [--since DATE|DURATION] [--limit N] [--cursor CURSOR | --all] [--json]',
    options: {
      type: { type: 'string', description: `Only events of this type: ${EVENT_TYPES.join(', ')}` },
      since: {
        type: 'string',
        description: 'Only events from then on: an ISO 8601 date-time (2026-01-31T12:00:00Z) or how long ago (15m, 12h, 7d)',
      },
      ...PAGING_OPTIONS,
    },
    fields: { type: '--type', since: '--since', limit: '--limit', cursor: '--cursor' },
    async run({ api }, values) {
      const { rows, nextCursor } = await fetchPages(
        api,
        '/events',
        { type: text(values.type), since: sinceFrom(values.since) },
        pagingFrom(values),
      );
      return { rows, nextCursor, columns: ['id', 'occurred_at', 'type', 'actor', 'subject'] };
    },
  },
};
