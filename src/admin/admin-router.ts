import { isDeepStrictEqual } from 'node:util';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { z } from 'zod';
import type { AuditContext } from '../audit/events.js';
import { AppError, parseOrThrow } from '../http/errors.js';
import { refuseUnstorableText } from '../http/storable-text.js';
import type { Logger } from '../log.js';
import { scopeAllows, type AdminAuthResult, type AdminCaller } from './admin-auth.js';
import type { AdminRoute } from './admin-route.js';
import { buildOpenApiDocument } from './openapi.js';

export interface AdminRouterDependencies {
  readonly routes: readonly AdminRoute[];
  readonly issuer: string;
  readonly authenticate: (authorization: string | undefined) => Promise<AdminAuthResult>;
  readonly recordAuthenticationFailure: (audit: AuditContext, reason: string) => Promise<void>;
  /** Seconds a client IP must wait after too many failed authentications; undefined when it may try. */
  readonly authenticationRetryAfter?: (ip: string) => Promise<number | undefined>;
  readonly log: Logger;
  /**
   * true (development, tests): a response that does not match its declared
   * schema exactly is a failure. false (production): unknown fields are
   * stripped; a response missing a declared field is still refused.
   */
  readonly strictResponses: boolean;
}

const REALM = 'Bearer realm="gatehouse-admin"';
const json = bodyParser({ enableTypes: ['json'], jsonLimit: '1mb', encoding: 'utf-8' });

/**
 * /admin: each declared route reads as auth → scope → validate (params, query,
 * body) → handler → response checked against its schema. Errors are thrown
 * and rendered as JSON by the app's one error renderer.
 */
export function adminRouter(deps: AdminRouterDependencies): Router {
  const router = new Router({ prefix: '/admin' });
  const openapi = buildOpenApiDocument(deps.routes, deps.issuer);

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/openapi.json', (ctx) => {
    ctx.body = openapi;
  });

  for (const route of deps.routes) {
    router[route.method](route.path, async (ctx) => {
      const authorized = await authorize(ctx, route, deps);
      if (!authorized) return;
      const { audit, caller } = authorized;
      const body = route.body ? await readJsonBody(ctx) : undefined;
      const result = await runRoute(
        route,
        { params: ctx.params as Record<string, string>, query: ctx.query, body, audit, caller },
        deps.strictResponses,
      );
      ctx.status = route.status;
      if (route.status !== 204) ctx.body = result;
    });
  }
  return router;
}

/** RFC 6750 §3: 401 with the reason for a bad token, 403 insufficient_scope for a missing scope. */
async function authorize(
  ctx: Context,
  route: AdminRoute,
  deps: AdminRouterDependencies,
): Promise<{ audit: AuditContext; caller: AdminCaller } | undefined> {
  const origin = { requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip };
  const retryAfter = await deps.authenticationRetryAfter?.(ctx.ip);
  if (retryAfter !== undefined) {
    ctx.set('Retry-After', String(retryAfter));
    ctx.status = 429;
    ctx.body = {
      error: 'too_many_requests',
      error_description: `too many failed authentications from this address; try again in ${retryAfter} seconds`,
    };
    return undefined;
  }
  const result = await deps.authenticate(ctx.get('authorization') || undefined);
  if (!result.ok) {
    // Only presented tokens are audited: bare requests (scanners) would flood the log.
    if (!result.missing) await deps.recordAuthenticationFailure({ actor: 'anonymous', ...origin }, result.reason);
    // §3.1: a request without credentials gets no error code, only the challenge.
    const challenge = result.missing ? REALM : `${REALM}, error="invalid_token", error_description="${result.reason}"`;
    throw new AppError(401, 'invalid_token', result.reason, { 'WWW-Authenticate': challenge });
  }
  if (!scopeAllows(result.caller.scopes, route.scope)) {
    throw new AppError(403, 'insufficient_scope', `this endpoint needs the scope ${route.scope} (or admin)`, {
      'WWW-Authenticate': `${REALM}, error="insufficient_scope", scope="${route.scope}"`,
    });
  }
  return { audit: { actor: result.caller.actor, ...origin }, caller: result.caller };
}

/** A path parameter that fails its schema names no resource: 404, as an unknown id does. */
export function parseParams(route: AdminRoute, params: Record<string, string>): Record<string, string> {
  if (!route.params) return params;
  const parsed = route.params.safeParse(params);
  if (parsed.success) return parsed.data;
  throw new AppError(
    404,
    'not_found',
    `nothing at ${route.path.replace(/:(\w+)/g, (_, name: string) => JSON.stringify(params[name] ?? ''))}`,
  );
}

async function readJsonBody(ctx: Context): Promise<unknown> {
  if (!ctx.is('application/json')) throw new AppError(400, 'invalid_request', 'the body must be application/json');
  await json(ctx, async () => {});
  return ctx.request.body ?? {};
}

/** A route's body, validated as the admin API does it (the console's forms and the CLI go through this too). */
export function checkBody<T>(body: unknown, schema: z.ZodType<T>, codeFor?: (field: string) => string): T {
  // Postgres cannot store NUL or lone surrogates (22021, 22P05): refused here, naming the field, before any query.
  refuseUnstorableText(body, codeFor);
  return parseOrThrow(schema, body, codeFor);
}

/** What a route is given once its caller is authorized: the raw path parameters, query and JSON body. */
export interface RouteInput {
  readonly params: Record<string, string>;
  readonly query: unknown;
  readonly body: unknown;
  readonly audit: AuditContext;
  readonly caller: AdminCaller;
}

/**
 * A route's steps after authorization: params → query → body → handler →
 * response bound to its schema. The HTTP router runs it, and so does the
 * CLI's in-process admin API (`gatehouse --local`), so both validate alike.
 */
export async function runRoute(route: AdminRoute, input: RouteInput, strictResponses: boolean): Promise<unknown> {
  const params = parseParams(route, input.params);
  const query = route.query ? parseOrThrow(route.query, input.query) : undefined;
  const body = route.body ? checkBody(input.body ?? {}, route.body, route.bodyErrorCode) : undefined;
  const result = await route.handle({ params, body, query, audit: input.audit, caller: input.caller });
  return route.status === 204 ? undefined : bindResponse(route, result, strictResponses);
}

/**
 * The response schema binds: what leaves is what the schema declares. A
 * mismatch is a bug in Gatehouse (a 500, logged), never a leak.
 */
function bindResponse(route: AdminRoute, result: unknown, strictResponses: boolean): unknown {
  if (!route.response) return result;
  const plain: unknown = JSON.parse(JSON.stringify(result ?? null));
  const parsed = route.response.safeParse(plain);
  if (!parsed.success) {
    throw new Error(
      `${route.operationId}: response does not match its schema: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  }
  if (strictResponses && !isDeepStrictEqual(parsed.data, plain)) {
    throw new Error(`${route.operationId}: response has fields its schema does not declare`);
  }
  return parsed.data;
}
