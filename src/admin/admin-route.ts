import type { z } from 'zod';
import type { AuditContext } from '../audit/events.js';
import type { AdminCaller } from './admin-auth.js';
import { AppError } from '../http/errors.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/**
 * One admin endpoint, declared: its scope and schemas drive validation, the
 * OpenAPI document and the handler's typed input. Handlers call the services.
 */
export interface AdminRoute<Body = unknown, Query = unknown> {
  readonly method: HttpMethod;
  /** koa-style path below /admin, e.g. `/users/:id`. */
  readonly path: string;
  readonly summary: string;
  readonly scope: string;
  readonly body?: z.ZodType<Body>;
  /** Error code for an invalid body field (default `invalid_request`; RFC 7591 has its own). */
  readonly bodyErrorCode?: (field: string) => string;
  readonly query?: z.ZodType<Query>;
  /** The success response's schema (documentation); absent for 204. */
  readonly response?: z.ZodType;
  readonly status: 200 | 201 | 204;
  handle(input: { params: Record<string, string>; body: Body; query: Query; audit: AuditContext; caller: AdminCaller }): Promise<unknown>;
}

/** Keeps each route's Body/Query inference while collecting them in one list. */
export function defineRoute<Body, Query>(route: AdminRoute<Body, Query>): AdminRoute {
  return route as unknown as AdminRoute;
}

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
export function grantsAdminAccess(metadata: { api_access?: unknown; default_resource?: unknown; introspection_resources?: unknown }, adminResource: string): boolean {
  const grants = Array.isArray(metadata.api_access) ? (metadata.api_access as { resource?: unknown }[]) : [];
  const introspects = Array.isArray(metadata.introspection_resources) ? metadata.introspection_resources : [];
  return grants.some((grant) => grant.resource === adminResource) || metadata.default_resource === adminResource || introspects.includes(adminResource);
}
