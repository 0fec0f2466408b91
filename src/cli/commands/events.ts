import { EVENT_TYPES } from '../../audit/events.js';
import { fetchPages } from '../admin-api.js';
import { PAGING_OPTIONS, pagingFrom, secondsFrom, text, type Command } from './command.js';

/** `--since`/`--until`: an ISO 8601 date-time, or how long ago (`15m`, `12h`, `7d`). */
function instantFrom(flag: string, value: unknown, now = Date.now()): string | undefined {
  const given = text(value);
  if (given === undefined || !/^\d+[smhd]?$/.test(given.trim())) return given;
  const seconds = secondsFrom(flag, given, 3650 * 86400) ?? 0;
  return new Date(now - seconds * 1000).toISOString();
}

/** The audit log, as the admin API's GET /events. */
export const eventsCommands: Record<string, Command> = {
  'events list': {
    summary: 'The audit log, newest first (filter by type, actor, subject and time)',
    usage:
      'events list [--type TYPE] [--actor ACTOR] [--subject ID] [--since DATE|DURATION] [--until DATE|DURATION] [--limit N] [--cursor CURSOR | --all] [--json]',
    options: {
      type: { type: 'string', description: `Only events of this type: ${EVENT_TYPES.join(', ')}` },
      actor: { type: 'string', description: 'Only events by this actor, exactly: cli, system, user:<id> or client:<client_id>' },
      subject: { type: 'string', description: 'Only events about this subject (a user id, client id, role id, key id...)' },
      until: { type: 'string', description: 'Only events before then: an ISO 8601 date-time or how long ago (15m, 12h, 7d)' },
      since: {
        type: 'string',
        description: 'Only events from then on: an ISO 8601 date-time (2026-01-31T12:00:00Z) or how long ago (15m, 12h, 7d)',
      },
      ...PAGING_OPTIONS,
    },
    fields: {
      type: '--type',
      actor: '--actor',
      subject: '--subject',
      since: '--since',
      until: '--until',
      limit: '--limit',
      cursor: '--cursor',
    },
    async run({ api }, values) {
      const { rows, nextCursor } = await fetchPages(
        api,
        '/events',
        {
          type: text(values.type),
          actor: text(values.actor),
          subject: text(values.subject),
          since: instantFrom('since', values.since),
          until: instantFrom('until', values.until),
        },
        pagingFrom(values),
      );
      return { rows, nextCursor, columns: ['id', 'occurred_at', 'type', 'actor', 'subject'] };
    },
  },
};
