import type { AdminRoute } from '../admin/admin-route.js';
import { checkBody, parseParams } from '../admin/admin-router.js';
import { AppError, parseOrThrow } from '../http/errors.js';
import type { ConsoleAdmin } from './console-auth.js';

export interface OperationInput {
  readonly params?: Record<string, string>;
  readonly query?: Record<string, unknown>;
  readonly body?: unknown;
}

/**
 * The console's actions are the admin API's operations, called by their
 * operationId: the same scope check, the same schemas, the same handler
 * (service call, audit event, presenter), with the signed-in admin as actor.
 */
export function createConsoleOperations(routes: readonly AdminRoute[]) {
  const byId = new Map(routes.map((route) => [route.operationId, route]));
  const routeOf = (operationId: string): AdminRoute => {
    const route = byId.get(operationId);
    if (!route) throw new Error(`no admin operation ${operationId}`);
    return route;
  };
  const mustBeAllowed = (admin: ConsoleAdmin, operationId: string): void => {
    const { scope } = routeOf(operationId);
    if (!admin.can(scope)) {
      throw new AppError(403, 'insufficient_scope', `this needs the ${scope} permission (or admin), which your roles do not grant`);
    }
  };
  return {
    /** The scope an operation needs (to show or hide its buttons). */
    scopeOf: (operationId: string): string => routeOf(operationId).scope,

    /** Whether the admin may run this operation. */
    allows: (admin: ConsoleAdmin, operationId: string): boolean => admin.can(routeOf(operationId).scope),

    /** Throws the 403 the operation would when the admin may not run it (before asking for more input). */
    require: mustBeAllowed,

    async run<T>(operationId: string, admin: ConsoleAdmin, input: OperationInput = {}): Promise<T> {
      const route = routeOf(operationId);
      mustBeAllowed(admin, operationId);
      const params = parseParams(route, input.params ?? {});
      const query = route.query ? parseOrThrow(route.query, input.query ?? {}) : undefined;
      const body = route.body ? checkBody(input.body ?? {}, route.body, route.bodyErrorCode) : undefined;
      return (await route.handle({ params, body, query, audit: admin.audit, caller: admin.caller })) as T;
    },
  };
}

export type ConsoleOperations = ReturnType<typeof createConsoleOperations>;
