import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import compose from 'koa-compose';
import type { PrismaClient } from './db/prisma.js';
import { accessLog } from './http/access-log.js';
import { createErrorRenderer, type ErrorFormat } from './http/error-renderer.js';
import { FAVICON_PATHS, sendFavicon } from './http/favicon.js';
import { healthRoutes } from './http/health-routes.js';
import { warnOnPlainHttp } from './http/plain-http-warning.js';
import { stylesheet } from './http/pages.js';
import { securityHeaders } from './http/security-headers.js';
import { notRouted, routerMethods } from './http/unrouted.js';
import { interactionRoutes, type InteractionDependencies } from './interactions/routes.js';
import { passkeyAssets } from './mfa/passkey-assets.js';
import { consoleAssets } from './console/console-assets.js';
import { engineContext, useOutermost } from './oidc/provider-internals.js';

export interface AppDependencies extends InteractionDependencies {
  readonly https: boolean;
  readonly trustProxy: boolean;
  /** Seconds resource servers may cache the JWKS: shorter than the key publish lead time. */
  readonly jwksMaxAge: number;
  readonly prisma: PrismaClient;
  /** The admin API router (/admin). */
  readonly admin: Router;
  /** Account self-service pages (account page, password reset, email verification), and the paths they answer. */
  readonly account: { readonly routers: readonly Router[]; readonly paths: readonly string[] };
  /** Self-registration pages under /interaction/:uid/register, when open. */
  readonly registration?: Router;
  /** The admin console (/console, src/console/). */
  readonly console?: Router;
}

/**
 * The composition root of HTTP: security headers and error handling for
 * everything, Gatehouse's own routes, then oidc-provider for the rest. The
 * provider is read through a reference so it can be swapped (key rotation).
 *
 * A protocol request (the hot path) goes straight to the provider, which is
 * a Koa app itself, with the same outer steps (access log, headers, errors)
 * installed outermost in it: one Koa context per request, not one of ours
 * wrapping the one `provider.callback()` builds. Gatehouse's own paths go to
 * its own Koa app with those same steps.
 */
export function createRequestHandler(deps: AppDependencies): RequestListener {
  const outer = outerSteps(deps);
  const own = createApp(deps, outer);
  const ownCallback = own.callback();
  const jwksCaching: Koa.Middleware = (ctx, next) => {
    if (ctx.path === '/jwks' && ctx.method === 'GET') ctx.set('Cache-Control', `public, max-age=${deps.jwksMaxAge}`);
    return next();
  };
  const providerCallbacks = new WeakMap<object, RequestListener>();
  return (req: IncomingMessage, res: ServerResponse) => {
    if (isGatehousePath(pathOf(req.url), deps.account.paths)) return ownCallback(req, res);
    const provider = deps.provider.current;
    let callback = providerCallbacks.get(provider);
    if (!callback) {
      useOutermost(provider, [...outer, jwksCaching]);
      callback = provider.callback();
      providerCallbacks.set(provider, callback);
    }
    return callback(req, res);
  };
}

/** What every request goes through first, Gatehouse's or the provider's: access log, security headers, the one error renderer. */
function outerSteps(deps: AppDependencies): Koa.Middleware[] {
  const errors = createErrorRenderer(deps.pages, deps.log);
  return [
    accessLog(deps.log, (ctx) => engineContext(ctx)?.oidc.client?.clientId),
    securityHeaders({ https: deps.https }),
    warnOnPlainHttp({ https: deps.https, trustProxy: deps.trustProxy }, deps.log),
    errors.middleware((ctx) => errorFormatFor(ctx, deps.account.paths)),
  ];
}

/** Gatehouse's own pages and APIs (the paths `isGatehousePath` names) as a Koa app, behind `outer`. */
export function createApp(deps: AppDependencies, outer: Koa.Middleware[] = outerSteps(deps)): Koa {
  const app = new Koa();
  app.proxy = deps.trustProxy;
  // Behind one trusted proxy, the client is the last X-Forwarded-For hop; earlier ones are the caller's to invent.
  app.maxIpsCount = 1;
  app.silent = true;

  const css = stylesheet();
  const interactions = interactionRoutes(deps);
  const health = healthRoutes(deps.prisma);
  const assets = new Router();
  assets.get('/assets/gatehouse.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  });
  for (const [path, script] of [...passkeyAssets(), ...consoleAssets()]) {
    assets.get(path, (ctx) => {
      ctx.type = 'text/javascript';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = script;
    });
  }
  for (const path of FAVICON_PATHS) assets.get(path, sendFavicon);

  const accountRouters = [
    ...(deps.registration ? [deps.registration] : []),
    ...deps.account.routers,
    ...(deps.console ? [deps.console] : []),
  ];
  const ownRoutes = compose<Koa.Context>([
    health.routes() as Koa.Middleware,
    assets.routes() as Koa.Middleware,
    ...accountRouters.map((router) => router.routes() as Koa.Middleware),
    interactions.routes() as Koa.Middleware,
  ]);
  const ownMethods = routerMethods(health, assets, interactions, ...accountRouters);
  const adminRoutes = deps.admin.routes() as Koa.Middleware;
  const adminMethods = routerMethods(deps.admin);

  for (const step of outer) app.use(step);
  // Nothing under /admin or an own path reaches oidc-provider: an unknown route is a 404 (405 if only the method is wrong) like every other error.
  app.use((ctx) => {
    if (isAdminPath(ctx.path))
      return adminRoutes(ctx, async () => {
        throw notRouted(ctx.method, ctx.path, adminMethods(ctx.path));
      });
    return ownRoutes(ctx, async () => {
      throw notRouted(ctx.method, ctx.path, ownMethods(ctx.path));
    });
  });
  return app;
}

/** The path of a request target as Koa's `ctx.path` reads it: origin-form `/path?query`, or absolute-form. */
function pathOf(url = '/'): string {
  if (url.startsWith('/')) {
    const query = url.indexOf('?');
    return query === -1 ? url : url.slice(0, query);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** Paths Gatehouse serves itself; everything else is the provider's. */
function isGatehousePath(path: string, accountPaths: readonly string[]): boolean {
  return isAdminPath(path) || isOwnPath(path) || accountPaths.includes(path);
}

const OWN_PATHS = new Set([
  '/healthz',
  '/readyz',
  '/assets/gatehouse.css',
  ...FAVICON_PATHS,
  ...passkeyAssets().keys(),
  ...consoleAssets().keys(),
]);

const isConsolePath = (path: string) => path === '/console' || path.startsWith('/console/');

function isOwnPath(path: string): boolean {
  return OWN_PATHS.has(path) || path.startsWith('/interaction/') || isConsolePath(path);
}

const isAdminPath = (path: string) => path === '/admin' || path.startsWith('/admin/');

/** The admin API always speaks JSON; the interaction pages show the error page to browsers; the rest negotiates. */
function errorFormatFor(ctx: Koa.Context, pagePaths: readonly string[]): ErrorFormat {
  if (isAdminPath(ctx.path)) return 'json';
  return ctx.path.startsWith('/interaction/') || isConsolePath(ctx.path) || pagePaths.includes(ctx.path) ? 'page' : 'negotiate';
}
