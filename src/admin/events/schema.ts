import { z } from 'zod';
import { EVENT_TYPES } from '../../audit/events.js';
import { isStorableText } from '../../http/storable-text.js';
import { pageQuery, pageSchema } from '../pagination.js';

const instant = z.iso
  .datetime({ offset: true })
  .refine(
    (value) => new Date(value).getUTCFullYear() >= 1970 && new Date(value).getUTCFullYear() <= 9999,
    'must be a date from 1970 to 9999',
  );

export const eventsQuery = z
  .object({
    type: z.enum(EVENT_TYPES).optional(),
    /** Exactly, e.g. `user:<id>` or `client:<client_id>`. */
    actor: z.string().max(300).refine(isStorableText, 'must not contain NUL or unpaired surrogates').optional(),
    subject: z.string().max(300).refine(isStorableText, 'must not contain NUL or unpaired surrogates').optional(),
    since: instant.optional(),
    /** Events before this time. */
    until: instant.optional(),
    ...pageQuery,
  })
  .strict();

/** An audit event as the admin API shows it. */
export const eventView = z.object({
  id: z.string(),
  occurred_at: z.iso.datetime(),
  type: z.string(),
  actor: z.string().nullable(),
  subject: z.string().nullable(),
  request_id: z.string().nullable(),
  client_ip: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

export const eventPage = pageSchema(eventView);
