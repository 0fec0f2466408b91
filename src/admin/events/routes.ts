import type { PrismaClient } from '../../db/prisma.js';
import { listEvents } from '../../audit/events.js';
import { AppError } from '../../http/errors.js';
import { defineRoute, type AdminRoute } from '../admin-route.js';
import { decodeCursor, page } from '../pagination.js';
import { presentEvent } from './presenter.js';
import { eventPage, eventsQuery } from './schema.js';

export function eventRoutes(prisma: PrismaClient): AdminRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/events',
      operationId: 'listEvents',
      summary: 'The audit log, newest first (filter by type, actor, subject, since, until)',
      scope: 'admin:events:read',
      status: 200,
      query: eventsQuery,
      response: eventPage,
      handle: async ({ query }) => {
        const cursor = decodeCursor(query.cursor);
        // Ids are bigints: at most 18 digits stays inside Postgres's int8.
        if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
        const { events, nextCursor } = await listEvents(prisma, {
          type: query.type,
          actor: query.actor || undefined,
          subject: query.subject || undefined,
          since: query.since ? new Date(query.since) : undefined,
          until: query.until ? new Date(query.until) : undefined,
          limit: query.limit,
          before: cursor === undefined ? undefined : BigInt(cursor),
        });
        return page(events.map(presentEvent), nextCursor);
      },
    }),
  ];
}
