import { z } from 'zod';
import { newResourceSchema, resourceChangesSchema, type ResourceService } from '../../clients/resources.js';
import { AppError } from '../../http/errors.js';
import { defineRoute, notFound, uuidParams, type AdminRoute } from '../admin-route.js';
import { decodeCursor, page, pageQuery } from '../pagination.js';
import { presentResource } from './presenter.js';
import { resourcePage, resourceView } from './schema.js';

export function resourceRoutes(resources: ResourceService, adminResource: string): AdminRoute[] {
  /** The admin API's own resource is Gatehouse's: changing or deleting it would cut admins off. */
  const refuseBuiltIn = async (id: string) => {
    const resource = await resources.getResource(id);
    if (!resource) throw notFound('resource', id);
    if (resource.identifier === adminResource)
      throw new AppError(409, 'resource_reserved', `${adminResource} is built in and cannot be changed`);
  };
  return [
    defineRoute({
      method: 'post',
      path: '/resources',
      operationId: 'createResource',
      summary: 'Register an API (RFC 8707 resource)',
      scope: 'admin:resources:write',
      status: 201,
      body: newResourceSchema,
      response: resourceView,
      handle: async ({ body }) => presentResource(await resources.createResource(body)),
    }),
    defineRoute({
      method: 'get',
      path: '/resources',
      operationId: 'listResources',
      summary: 'List APIs',
      scope: 'admin:resources:read',
      status: 200,
      query: z.object(pageQuery).strict(),
      response: resourcePage,
      handle: async ({ query }) => {
        const { resources: found, nextCursor } = await resources.listResources({ limit: query.limit, after: decodeCursor(query.cursor) });
        return page(found.map(presentResource), nextCursor);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/resources/:id',
      operationId: 'getResource',
      summary: 'Show an API',
      scope: 'admin:resources:read',
      status: 200,
      params: uuidParams,
      response: resourceView,
      handle: async ({ params }) => {
        const resource = await resources.getResource(params.id);
        if (!resource) throw notFound('resource', params.id);
        return presentResource(resource);
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/resources/:id',
      operationId: 'updateResource',
      summary: 'Change an API (not its identifier)',
      scope: 'admin:resources:write',
      status: 200,
      params: uuidParams,
      body: resourceChangesSchema,
      response: resourceView,
      handle: async ({ params, body }) => {
        await refuseBuiltIn(params.id);
        return presentResource(await resources.updateResource(params.id, body));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/resources/:id',
      operationId: 'deleteResource',
      summary: 'Delete an API',
      scope: 'admin:resources:write',
      status: 204,
      params: uuidParams,
      handle: async ({ params }) => {
        await refuseBuiltIn(params.id);
        await resources.deleteResource(params.id);
      },
    }),
  ];
}
