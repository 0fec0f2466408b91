import type { PrismaClient } from '../../db/prisma.js';
import { z } from 'zod';
import { EVENT_TYPES, listEvents } from '../../audit/events.js';
import { defineRoute, type AdminRoute } from '../admin-route.js';
import { decodeCursor, encodeCursor, pageQuery, pageSchema } from '../pagination.js';
import { AppError } from '../../http/errors.js';

const eventsQuery = z
  .object({
    type: z.enum(EVENT_TYPES).optional(),
    since: z.iso
      .datetime({ offset: true })
      .refine((value) => new Date(value).getUTCFullYear() >= 1970 && new Date(value).getUTCFullYear() <= 9999, 'must be a date from 1970 to 9999')
      .optional(),
    ...pageQuery,
  })
  .strict();

const eventView = z.object({
  id: z.string(),
  occurred_at: z.string(),
  type: z.string(),
  actor: z.string().nullable(),
  subject: z.string().nullable(),
  request_id: z.string().nullable(),
  client_ip: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

export function eventRoutes(prisma: PrismaClient): AdminRoute[] {
  return [
    defineRoute({
      method: 'get', path: '/events', summary: 'The audit log, newest first', scope: 'admin:events:read', status: 200,
      query: eventsQuery, response: pageSchema(eventView),
      handle: async ({ query }) => {
        const cursor = decodeCursor(query.cursor);
        // Ids are bigints: at most 18 digits stays inside Postgres's int8.
        if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
        const { events, nextCursor } = await listEvents(prisma, {
          type: query.type,
          since: query.since ? new Date(query.since) : undefined,
          limit: query.limit,
          before: cursor === undefined ? undefined : BigInt(cursor),
        });
        return { data: events, next_cursor: encodeCursor(nextCursor) };
      },
    }),
  ];
}
