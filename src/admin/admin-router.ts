import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AuditContext } from '../audit/events.js';
import { describe } from '../http/error-middleware.js';
import { AppError, parseOrThrow } from '../http/errors.js';
import type { Logger } from '../log.js';
import { scopeAllows, type AdminAuthResult, type AdminCaller } from './admin-auth.js';
import type { AdminRoute } from './admin-route.js';
import { buildOpenApiDocument } from './openapi.js';

export interface AdminRouterDependencies {
  readonly routes: readonly AdminRoute[];
  readonly issuer: string;
  readonly authenticate: (authorization: string | undefined) => Promise<AdminAuthResult>;
  readonly recordAuthenticationFailure: (audit: AuditContext, reason: string) => Promise<void>;
  readonly log: Logger;
}

const REALM = 'Bearer realm="gatehouse-admin"';
const json = bodyParser({ enableTypes: ['json'], jsonLimit: '1mb', encoding: 'utf-8' });

/**
 * /admin: each declared route reads as auth → scope → validate → handler.
 * Every error is JSON `{ error, error_description }`.
 */
export function adminRouter(deps: AdminRouterDependencies): Router {
  const router = new Router({ prefix: '/admin' });
  const openapi = buildOpenApiDocument(deps.routes, deps.issuer);

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
    } catch (error) {
      const { status, code, description } = describe(error);
      if (status >= 500) deps.log.error(`admin ${ctx.method} ${ctx.path} failed`, { err: error });
      ctx.status = status;
      ctx.body = { error: code, error_description: description };
    }
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = openapi;
  });

  for (const route of deps.routes) {
    router[route.method](route.path, async (ctx) => {
      const authorized = await authorize(ctx, route, deps);
      if (!authorized) return;
      const { audit, caller } = authorized;
      const body = route.body ? await parseBody(ctx, route.body, route.bodyErrorCode) : undefined;
      const query = route.query ? parseOrThrow(route.query, ctx.query) : undefined;
      const result = await route.handle({ params: ctx.params as Record<string, string>, body, query, audit, caller });
      ctx.status = route.status;
      if (route.status !== 204) ctx.body = result;
    });
  }
  return router;
}

/** RFC 6750 §3: 401 with the reason for a bad token, 403 insufficient_scope for a missing scope. */
async function authorize(ctx: Context, route: AdminRoute, deps: AdminRouterDependencies): Promise<{ audit: AuditContext; caller: AdminCaller } | undefined> {
  const origin = { requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip };
  const result = await deps.authenticate(ctx.get('authorization') || undefined);
  if (!result.ok) {
    // Only presented tokens are audited: bare requests (scanners) would flood the log.
    if (!result.missing) await deps.recordAuthenticationFailure({ actor: 'anonymous', ...origin }, result.reason);
    // §3.1: a request without credentials gets no error code, only the challenge.
    ctx.set('WWW-Authenticate', result.missing ? REALM : `${REALM}, error="invalid_token", error_description="${result.reason}"`);
    ctx.status = 401;
    ctx.body = { error: 'invalid_token', error_description: result.reason };
    return undefined;
  }
  if (!scopeAllows(result.caller.scopes, route.scope)) {
    ctx.set('WWW-Authenticate', `${REALM}, error="insufficient_scope", scope="${route.scope}"`);
    ctx.status = 403;
    ctx.body = { error: 'insufficient_scope', error_description: `this endpoint needs the scope ${route.scope} (or admin)` };
    return undefined;
  }
  return { audit: { actor: result.caller.actor, ...origin }, caller: result.caller };
}

async function parseBody<T>(ctx: Context, schema: z.ZodType<T>, codeFor?: (field: string) => string): Promise<T> {
  if (!ctx.is('application/json')) throw new AppError(400, 'invalid_request', 'the body must be application/json');
  await json(ctx, async () => {});
  return parseOrThrow(schema, ctx.request.body ?? {}, codeFor);
}
