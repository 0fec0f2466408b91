import { z } from 'zod';
import { pageSchema } from '../pagination.js';

/** An API (RFC 8707 resource) as the admin API shows it. */
export const resourceView = z.object({
  id: z.uuid(),
  identifier: z.string(),
  name: z.string(),
  scopes: z.array(z.object({ name: z.string(), description: z.string().optional() })),
  access_token_ttl: z.number().int(),
  /** RBAC: user tokens carry only the requested scopes the user holds through roles. */
  rbac: z.enum(['on', 'off']),
  /** With rbac: user tokens carry a `permissions` array. */
  permissions_claim: z.boolean(),
});

export const resourcePage = pageSchema(resourceView);
