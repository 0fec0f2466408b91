import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import { runInRequestContext, type Logger, type RequestContext } from '../log.js';
import { observeRequest } from '../metrics/metrics.js';

// oidc-provider's routes (its `routes` defaults, lib/helpers/initialize_app.js) and our own fixed paths.
const FIXED_ROUTES = new Set([
  '/.well-known/openid-configuration',
  '/.well-known/oauth-authorization-server',
  '/auth',
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/jwks',
  '/me',
  '/session/end',
  '/session/end/confirm',
  '/session/end/success',
  '/device',
  '/device/auth',
  '/request',
  '/reg',
  '/backchannel',
  '/healthz',
  '/readyz',
  '/assets/gatehouse.css',
]);
const TEMPLATED_ROUTES: [RegExp, string][] = [
  [/^\/auth\/[^/]+$/, '/auth/:uid'],
  [/^\/device\/[^/]+$/, '/device/:uid'],
  [/^\/reg\/[^/]+$/, '/reg/:clientId'],
];

/**
 * The route template a request matched, for logs and metric labels: never
 * the raw path (ids, and unbounded series from scanners), never the query
 * string (codes, tokens). Anything unknown is `unmatched`.
 */
export function routeOf(ctx: Koa.Context): string {
  const matched = (ctx as Koa.Context & { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  const path = ctx.path.length > 1 ? ctx.path.replace(/\/+$/, '') : ctx.path;
  if (FIXED_ROUTES.has(path)) return path;
  return TEMPLATED_ROUTES.find(([pattern]) => pattern.test(path))?.[1] ?? 'unmatched';
}

/**
 * One access-log line and one histogram observation per request. The request
 * id (the caller's X-Request-Id when sane, else a new one) is echoed back and
 * carried by every line logged while the request runs (log.ts). `clientIdOf`
 * names the client a request was for, read when the line is written (for
 * oidc-provider's requests, the client it authenticated).
 */
export function accessLog(log: Logger, clientIdOf: (ctx: Koa.Context) => string | undefined = () => undefined): Koa.Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('x-request-id');
    const request: RequestContext = { requestId: /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID() };
    ctx.state.requestId = request.requestId;
    ctx.state.requestContext = request;
    ctx.set('X-Request-Id', request.requestId);
    let handled = false;
    let abandoned = false;
    let logged = false;
    const write = () => {
      if (logged) return;
      logged = true;
      const seconds = (performance.now() - started) / 1000;
      const route = routeOf(ctx);
      const status = ctx.res.statusCode;
      request.clientId ??= clientIdOf(ctx);
      observeRequest(route, ctx.method, status, seconds);
      const fields = {
        requestId: request.requestId,
        method: ctx.method,
        route,
        status,
        durationMs: Math.round(seconds * 10_000) / 10,
        ...(request.clientId ? { clientId: request.clientId } : {}),
        ...(abandoned ? { abandoned: true } : {}),
      };
      const line = `${ctx.method} ${route} ${status} ${Math.round(seconds * 1000)}ms`;
      if (abandoned) log.warn(`${line} abandoned: the client closed the connection first`, fields);
      else if (log.access) log.access(line, fields);
      else log.info(line, fields);
    };
    // One listener: 'close' follows 'finish' for every answered request. A
    // client that gave up closes with no 'finish': say what became of its
    // request once it is done (or now, if it already is).
    ctx.res.on('close', () => {
      if (ctx.res.writableFinished) return write();
      abandoned = true;
      if (handled) write();
    });
    try {
      await runInRequestContext(ctx, next);
    } finally {
      handled = true;
      if (abandoned) write();
    }
  };
}
