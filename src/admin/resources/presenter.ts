import type { z } from 'zod';
import type { Resource } from '../../clients/resources.js';
import type { resourceView } from './schema.js';

/** The fields an API shows to the admin API and the CLI. */
export function presentResource(resource: Resource): z.infer<typeof resourceView> {
  return {
    id: resource.id,
    identifier: resource.identifier,
    name: resource.name,
    scopes: resource.scopes.map((scope) => ({
      name: scope.name,
      ...(scope.description === undefined ? {} : { description: scope.description }),
    })),
    access_token_ttl: resource.accessTokenTtl,
    rbac: resource.rbac ? 'on' : 'off',
    permissions_claim: resource.permissionsClaim,
  };
}
