import type { z } from 'zod';
import type { EventView } from '../../audit/events.js';
import type { eventView } from './schema.js';

/** The fields an audit event shows to the admin API. */
export function presentEvent(event: EventView): z.infer<typeof eventView> {
  return {
    id: event.id,
    occurred_at: event.occurred_at,
    type: event.type,
    actor: event.actor,
    subject: event.subject,
    request_id: event.request_id,
    client_ip: event.client_ip,
    details: event.details && typeof event.details === 'object' ? (event.details as Record<string, unknown>) : {},
  };
}
