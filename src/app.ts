import type Router from '@koa/router';
import Koa from 'koa';
import compose from 'koa-compose';
import type { PrismaClient } from './db/prisma.js';
import { accessLog } from './http/access-log.js';
import { errorMiddleware } from './http/error-middleware.js';
import { healthRoutes } from './http/health-routes.js';
import { stylesheet } from './http/pages.js';
import { securityHeaders } from './http/security-headers.js';
import { interactionRoutes, type InteractionDependencies } from './interactions/routes.js';
import type { ProviderRef } from './oidc/interaction-steps.js';

export interface AppDependencies extends InteractionDependencies {
  readonly https: boolean;
  readonly trustProxy: boolean;
  /** Seconds resource servers may cache the JWKS: shorter than the key publish lead time. */
  readonly jwksMaxAge: number;
  readonly prisma: PrismaClient;
  /** The admin API router (/admin). */
  readonly admin: Router;
}

/**
 * The composition root of HTTP: security headers and error handling for
 * everything, Gatehouse's own routes, then oidc-provider for the rest. The
 * provider is read through a reference so it can be swapped (key rotation).
 */
export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  app.proxy = deps.trustProxy;
  // Behind one trusted proxy, the client is the last X-Forwarded-For hop; earlier ones are the caller's to invent.
  app.maxIpsCount = 1;
  app.silent = true;

  const css = stylesheet();
  const interactions = interactionRoutes(deps);
  const health = healthRoutes(deps.prisma);
  const providerCallbacks = new WeakMap<object, ReturnType<ProviderRef['current']['callback']>>();

  // Gatehouse's own pages and APIs, reached by path prefix: protocol requests
  // (the hot path) skip their routers' matching altogether.
  const ownRoutes = compose<Koa.Context>([
    health.routes() as Koa.Middleware,
    async (ctx: Koa.Context, next: Koa.Next) => {
      if (ctx.path !== '/assets/gatehouse.css') return next();
      ctx.type = 'text/css';
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.body = css;
    },
    interactions.routes() as Koa.Middleware,
    interactions.allowedMethods() as Koa.Middleware,
  ]);
  const adminRoutes = deps.admin.routes() as Koa.Middleware;
  // Nothing under /admin reaches oidc-provider: an unknown endpoint is a JSON 404 like every admin error.
  const adminNotFound = async (ctx: Koa.Context) => {
    ctx.status = 404;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { error: 'not_found', error_description: `no admin endpoint ${ctx.method} ${ctx.path}` };
  };

  app.use(accessLog(deps.log));
  app.use(securityHeaders({ https: deps.https }));
  app.use(errorMiddleware(deps.log));
  app.use((ctx, next) => {
    if (ctx.path === '/admin' || ctx.path.startsWith('/admin/')) return adminRoutes(ctx, () => adminNotFound(ctx));
    return isOwnPath(ctx.path) ? ownRoutes(ctx, next) : next();
  });
  app.use(async (ctx, next) => {
    if (ctx.path === '/jwks' && ctx.method === 'GET') ctx.set('Cache-Control', `public, max-age=${deps.jwksMaxAge}`);
    await next();
  });
  app.use(async (ctx) => {
    const provider = deps.provider.current;
    let callback = providerCallbacks.get(provider);
    if (!callback) {
      callback = provider.callback();
      providerCallbacks.set(provider, callback);
    }
    ctx.respond = false;
    await callback(ctx.req, ctx.res);
  });
  return app;
}

const OWN_PATHS = new Set(['/healthz', '/readyz', '/assets/gatehouse.css']);

function isOwnPath(path: string): boolean {
  return OWN_PATHS.has(path) || path.startsWith('/interaction/');
}
