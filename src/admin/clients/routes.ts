import { z } from 'zod';
import { clientMetadataChanges, clientMetadataSchema } from '../../clients/client-metadata.js';
import { metadataErrorCode, type ClientService } from '../../clients/clients.js';
import type { AdminCaller } from '../admin-auth.js';
import { clientIdParams, defineRoute, grantsAdminAccess, notFound, requireFullAdmin, type AdminRoute } from '../admin-route.js';
import { decodeCursor, page, pageQuery } from '../pagination.js';
import { presentClient, presentRegisteredClient } from './presenter.js';
import { clientPage, clientSecretView, clientView, registeredClientView } from './schema.js';

export function clientRoutes(clients: ClientService, adminResource: string): AdminRoute[] {
  /** A client that reaches the admin API is only created, changed or removed with `admin` itself. */
  const guardAdminClient = async (clientId: string, caller: AdminCaller, changes?: Record<string, unknown>) => {
    const current = await clients.getClient(clientId);
    if (!current) throw notFound('client', clientId);
    if (grantsAdminAccess(current, adminResource) || (changes && grantsAdminAccess({ ...current, ...changes }, adminResource))) {
      requireFullAdmin(caller, 'a client with access to the admin API');
    }
  };
  return [
    defineRoute({
      method: 'post',
      path: '/clients',
      operationId: 'registerClient',
      summary: 'Register a client (RFC 7591 metadata); the client_secret is shown once',
      scope: 'admin:clients:write',
      status: 201,
      body: clientMetadataSchema,
      bodyErrorCode: metadataErrorCode,
      response: registeredClientView,
      handle: async ({ body, audit, caller }) => {
        if (grantsAdminAccess(body, adminResource)) requireFullAdmin(caller, 'a client with access to the admin API');
        return presentRegisteredClient(await clients.registerClient(body, audit));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/clients',
      operationId: 'listClients',
      summary: 'List clients (search: part of the client id or name, any case)',
      scope: 'admin:clients:read',
      status: 200,
      query: z.object({ ...pageQuery, search: z.string().trim().max(200).optional() }).strict(),
      response: clientPage,
      handle: async ({ query }) => {
        const { clients: found, nextCursor } = await clients.listClients({
          limit: query.limit,
          after: decodeCursor(query.cursor),
          search: query.search || undefined,
        });
        return page(found.map(presentClient), nextCursor);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/clients/:id',
      operationId: 'getClient',
      summary: 'Show a client',
      scope: 'admin:clients:read',
      status: 200,
      params: clientIdParams,
      response: clientView,
      handle: async ({ params }) => {
        const client = await clients.getClient(params.id);
        if (!client) throw notFound('client', params.id);
        return presentClient(client);
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/clients/:id',
      operationId: 'updateClient',
      summary: 'Change client metadata',
      scope: 'admin:clients:write',
      status: 200,
      params: clientIdParams,
      body: clientMetadataChanges,
      bodyErrorCode: metadataErrorCode,
      response: clientView,
      handle: async ({ params, body, audit, caller }) => {
        await guardAdminClient(params.id, caller, body);
        return presentClient(await clients.updateClient(params.id, body, audit));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/clients/:id',
      operationId: 'deleteClient',
      summary: 'Delete a client and revoke its grants and tokens',
      scope: 'admin:clients:write',
      status: 204,
      params: clientIdParams,
      handle: async ({ params, audit, caller }) => {
        await guardAdminClient(params.id, caller);
        await clients.deleteClient(params.id, audit);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/clients/:id/secret',
      operationId: 'rotateClientSecret',
      summary: 'Rotate the client secret: the old one stops working',
      scope: 'admin:clients:write',
      status: 200,
      params: clientIdParams,
      response: clientSecretView,
      handle: async ({ params, audit, caller }) => {
        await guardAdminClient(params.id, caller);
        return clients.rotateClientSecret(params.id, audit);
      },
    }),
  ];
}
