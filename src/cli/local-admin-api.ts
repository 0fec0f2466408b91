import { adminRoutes } from '../admin/admin-api.js';
import type { AdminCaller } from '../admin/admin-auth.js';
import type { AdminRoute } from '../admin/admin-route.js';
import { runRoute } from '../admin/admin-router.js';
import { createAuditLog } from '../audit/events.js';
import { AppError } from '../http/errors.js';
import type { AdminApi } from './admin-api.js';
import type { CliContext } from './context.js';

/** The operator at the machine, with the database and the master secret: every admin power, audited as `cli`. */
const OPERATOR: AdminCaller = { actor: 'cli', scopes: new Set(['admin']) };

/** A route's path as a pattern: `/users/:id` matches `/users/abc` with id = abc. */
function matcher(route: AdminRoute): (path: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${route.path.replace(/:(\w+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return (path) => {
    const match = pattern.exec(path);
    if (!match) return undefined;
    return Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? '')]));
  };
}

/**
 * `gatehouse --local`: the admin API's own routes run in this process on the
 * database, without HTTP or a token: the same validation, privilege rules,
 * presenters and audit events as the server's /admin.
 */
export function createLocalAdminApi(context: CliContext): AdminApi {
  const routes = adminRoutes({
    issuer: context.issuer,
    prisma: context.prisma,
    users: context.users,
    clients: context.clients,
    resources: context.resources,
    roles: context.roles,
    keys: context.keys,
    audit: createAuditLog(context.prisma),
    loginThrottle: context.loginThrottle,
  }).map((route) => ({ route, match: matcher(route) }));

  return {
    async call(method, path, request = {}) {
      for (const { route, match } of routes) {
        if (route.method !== method) continue;
        const params = match(path);
        if (!params) continue;
        const query = Object.fromEntries(Object.entries(request.query ?? {}).filter(([, value]) => value !== undefined));
        return runRoute(route, { params, query, body: request.body, audit: { actor: OPERATOR.actor }, caller: OPERATOR }, false);
      }
      throw new AppError(404, 'not_found', `no admin endpoint ${method.toUpperCase()} ${path}`);
    },
  };
}
