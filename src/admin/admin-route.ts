import { z } from 'zod';
import type { AuditContext } from '../audit/events.js';
import type { AdminCaller } from './admin-auth.js';
import { AppError } from '../http/errors.js';
import { isStorableText } from '../http/storable-text.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * One admin endpoint, declared: its scope and schemas drive validation, the
 * OpenAPI document and the handler's typed input. Handlers call the services.
 */
export interface AdminRoute<Body = unknown, Query = unknown, Params = Record<string, string>> {
  readonly method: HttpMethod;
  /** koa-style path below /admin, e.g. `/users/:id`. */
  readonly path: string;
  readonly summary: string;
  /** Unique across the API: the OpenAPI operationId (e.g. `listClients`). */
  readonly operationId: string;
  readonly scope: string;
  /**
   * The path parameters. A value that fails it names nothing here: 404, as
   * for an id that is well-formed but unknown.
   */
  readonly params?: z.ZodType<Params>;
  readonly body?: z.ZodType<Body>;
  /** Error code for an invalid body field (default `invalid_request`; RFC 7591 has its own). */
  readonly bodyErrorCode?: (field: string) => string;
  readonly query?: z.ZodType<Query>;
  /**
   * The success response's schema; absent for 204. It binds: in development
   * and tests a response that does not match it exactly fails (a 500 and a
   * logged error); in production unknown fields are stripped.
   */
  readonly response?: z.ZodType;
  readonly status: 200 | 201 | 204;
  /** Error answers particular to this operation (status: when), documented beside the common ones. */
  readonly errors?: Readonly<Partial<Record<409 | 429 | 503, string>>>;
  handle(input: { params: Params; body: Body; query: Query; audit: AuditContext; caller: AdminCaller }): Promise<unknown>;
}

/** Keeps each route's Body/Query/Params inference while collecting them in one list. */
export function defineRoute<Body, Query, Params = Record<string, string>>(route: AdminRoute<Body, Query, Params>): AdminRoute {
  return route as unknown as AdminRoute;
}

/** `:id` of users and APIs: a uuid. */
export const uuidParams = z.object({ id: z.uuid() });

/** `:id` of clients: a client_id as any client may have been registered with (not only Gatehouse's generated ones). */
export const clientIdParams = z.object({
  id: z.string().min(1).max(255).refine(isStorableText, 'must not contain NUL or unpaired surrogates'),
});

export function notFound(kind: string, id: string | undefined): AppError {
  return new AppError(404, 'not_found', `no ${kind} ${id ?? ''}`.trim());
}

/**
 * Changes that hand out admin power (an admin client, the admin role) or touch
 * who holds it need `admin` itself: a finer scope must not be a step to all.
 */
export function requireFullAdmin(caller: AdminCaller, what: string): void {
  if (!caller.scopes.has('admin')) throw new AppError(403, 'insufficient_scope', `${what} needs the scope admin`);
}

/** Whether these client metadata give the client access to the admin API. */
export function grantsAdminAccess(
  metadata: { api_access?: unknown; default_resource?: unknown; introspection_resources?: unknown },
  adminResource: string,
): boolean {
  const grants = Array.isArray(metadata.api_access) ? (metadata.api_access as { resource?: unknown }[]) : [];
  const introspects = Array.isArray(metadata.introspection_resources) ? metadata.introspection_resources : [];
  return (
    grants.some((grant) => grant.resource === adminResource) ||
    metadata.default_resource === adminResource ||
    introspects.includes(adminResource)
  );
}
