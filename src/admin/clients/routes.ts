import { z } from 'zod';
import { clientMetadataChanges, clientMetadataSchema } from '../../clients/client-metadata.js';
import { metadataErrorCode, type ClientRecord, type ClientService } from '../../clients/clients.js';
import type { AdminCaller } from '../admin-auth.js';
import { defineRoute, grantsAdminAccess, notFound, requireFullAdmin, type AdminRoute } from '../admin-route.js';
import { decodeCursor, page, pageQuery, pageSchema } from '../pagination.js';

// Documentation of what comes back; the presenter below decides what may leave.
const clientView = z.object({ client_id: z.string(), created_at: z.string(), updated_at: z.string() }).catchall(z.unknown());
const secretView = z.object({ client_id: z.string(), client_secret: z.string() });

/** Client metadata without the secret or its hash (the service never returns them), dates as ISO strings. */
function presentClient(client: ClientRecord): z.infer<typeof clientView> {
  return { ...client, created_at: client.created_at.toISOString(), updated_at: client.updated_at.toISOString() };
}

export function clientRoutes(clients: ClientService, adminResource: string): AdminRoute[] {
  /** A client that reaches the admin API is only created, changed or removed with `admin` itself. */
  const guardAdminClient = async (clientId: string | undefined, caller: AdminCaller, changes?: Record<string, unknown>) => {
    const current = await clients.getClient(clientId ?? '');
    if (!current) throw notFound('client', clientId);
    if (grantsAdminAccess(current, adminResource) || (changes && grantsAdminAccess({ ...current, ...changes }, adminResource))) {
      requireFullAdmin(caller, 'a client with access to the admin API');
    }
  };
  return [
    defineRoute({
      method: 'post', path: '/clients', summary: 'Register a client (RFC 7591 metadata); the client_secret is shown once', scope: 'admin:clients:write',
      status: 201, body: clientMetadataSchema, bodyErrorCode: metadataErrorCode, response: clientView,
      handle: ({ body, audit, caller }) => {
        if (grantsAdminAccess(body, adminResource)) requireFullAdmin(caller, 'a client with access to the admin API');
        return clients.registerClient(body, audit);
      },
    }),
    defineRoute({
      method: 'get', path: '/clients', summary: 'List clients', scope: 'admin:clients:read', status: 200,
      query: z.object(pageQuery).strict(), response: pageSchema(clientView),
      handle: async ({ query }) => {
        const { clients: found, nextCursor } = await clients.listClients({ limit: query.limit, after: decodeCursor(query.cursor) });
        return page(found.map(presentClient), nextCursor);
      },
    }),
    defineRoute({
      method: 'get', path: '/clients/:id', summary: 'Show a client', scope: 'admin:clients:read', status: 200, response: clientView,
      handle: async ({ params }) => {
        const client = await clients.getClient(params.id ?? '');
        if (!client) throw notFound('client', params.id);
        return presentClient(client);
      },
    }),
    defineRoute({
      method: 'patch', path: '/clients/:id', summary: 'Change client metadata', scope: 'admin:clients:write', status: 200,
      body: clientMetadataChanges, bodyErrorCode: metadataErrorCode, response: clientView,
      handle: async ({ params, body, audit, caller }) => {
        await guardAdminClient(params.id, caller, body);
        return presentClient(await clients.updateClient(params.id ?? '', body, audit));
      },
    }),
    defineRoute({
      method: 'delete', path: '/clients/:id', summary: 'Delete a client and revoke its grants and tokens', scope: 'admin:clients:write', status: 204,
      handle: async ({ params, audit, caller }) => {
        await guardAdminClient(params.id, caller);
        await clients.deleteClient(params.id ?? '', audit);
      },
    }),
    defineRoute({
      method: 'post', path: '/clients/:id/secret', summary: 'Rotate the client secret: the old one stops working', scope: 'admin:clients:write',
      status: 200, response: secretView,
      handle: async ({ params, audit, caller }) => {
        await guardAdminClient(params.id, caller);
        return clients.rotateClientSecret(params.id ?? '', audit);
      },
    }),
  ];
}
