import { z } from 'zod';
import { newResourceSchema, resourceChangesSchema, type Resource, type ResourceService } from '../../clients/resources.js';
import { AppError } from '../../http/errors.js';
import { defineRoute, notFound, type AdminRoute } from '../admin-route.js';
import { decodeCursor, page, pageQuery, pageSchema } from '../pagination.js';

const resourceView = z.object({
  id: z.uuid(),
  identifier: z.string(),
  name: z.string(),
  scopes: z.array(z.object({ name: z.string(), description: z.string().optional() })),
  access_token_ttl: z.number().int(),
  rbac: z.enum(['on', 'off']),
  permissions_claim: z.boolean(),
});

function presentResource(resource: Resource): z.infer<typeof resourceView> {
  return {
    id: resource.id,
    identifier: resource.identifier,
    name: resource.name,
    scopes: resource.scopes,
    access_token_ttl: resource.accessTokenTtl,
    rbac: resource.rbac ? 'on' : 'off',
    permissions_claim: resource.permissionsClaim,
  };
}

export function resourceRoutes(resources: ResourceService, adminResource: string): AdminRoute[] {
  /** The admin API's own resource is Gatehouse's: changing or deleting it would cut admins off. */
  const refuseBuiltIn = async (id: string | undefined) => {
    const resource = await resources.getResource(id ?? '');
    if (!resource) throw notFound('resource', id);
    if (resource.identifier === adminResource) throw new AppError(409, 'resource_reserved', `${adminResource} is built in and cannot be changed`);
  };
  return [
    defineRoute({
      method: 'post', path: '/resources', summary: 'Register an API (RFC 8707 resource)', scope: 'admin:resources:write', status: 201,
      body: newResourceSchema, response: resourceView,
      handle: async ({ body }) => presentResource(await resources.createResource(body)),
    }),
    defineRoute({
      method: 'get', path: '/resources', summary: 'List APIs', scope: 'admin:resources:read', status: 200,
      query: z.object(pageQuery).strict(), response: pageSchema(resourceView),
      handle: async ({ query }) => {
        const { resources: found, nextCursor } = await resources.listResources({ limit: query.limit, after: decodeCursor(query.cursor) });
        return page(found.map(presentResource), nextCursor);
      },
    }),
    defineRoute({
      method: 'get', path: '/resources/:id', summary: 'Show an API', scope: 'admin:resources:read', status: 200, response: resourceView,
      handle: async ({ params }) => {
        const resource = await resources.getResource(params.id ?? '');
        if (!resource) throw notFound('resource', params.id);
        return presentResource(resource);
      },
    }),
    defineRoute({
      method: 'patch', path: '/resources/:id', summary: 'Change an API (not its identifier)', scope: 'admin:resources:write', status: 200,
      body: resourceChangesSchema, response: resourceView,
      handle: async ({ params, body }) => {
        await refuseBuiltIn(params.id);
        return presentResource(await resources.updateResource(params.id ?? '', body));
      },
    }),
    defineRoute({
      method: 'delete', path: '/resources/:id', summary: 'Delete an API', scope: 'admin:resources:write', status: 204,
      handle: async ({ params }) => {
        await refuseBuiltIn(params.id);
        await resources.deleteResource(params.id ?? '');
      },
    }),
  ];
}
