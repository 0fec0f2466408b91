import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { ErrorRenderer } from './error-renderer.js';
import { AppError } from './errors.js';

/**
 * What to answer a request no route took: 405 with `Allow` when the path
 * exists for other methods (RFC 9110 §15.5.6), else 404.
 */
export function notRouted(method: string, path: string, allowed: readonly string[]): AppError {
  if (allowed.length === 0) return new AppError(404, 'not_found', `nothing here: ${method} ${path}`);
  return new AppError(405, 'method_not_allowed', `${method} is not allowed here; use ${allowed.join(' or ')}`, {
    Allow: allowed.join(', '),
  });
}

/** The methods koa routers serve on a path (GET routes serve HEAD too). */
export function routerMethods(...routers: Router[]): (path: string) => string[] {
  return (path) => [
    ...new Set(
      routers.flatMap((router) =>
        router.stack.filter((layer) => layer.methods.length > 0 && layer.match(path)).flatMap((layer) => layer.methods),
      ),
    ),
  ];
}

/**
 * For an app whose routers answer nothing for unknown routes (oidc-provider's
 * gives a bare 404): the same error as everywhere else.
 */
export function answerUnrouted(errors: ErrorRenderer, methodsFor: (path: string) => readonly string[]): Middleware {
  return async (ctx, next) => {
    await next();
    if (ctx.status !== 404 || ctx.body != null) return;
    const allowed = methodsFor(ctx.path);
    // An OPTIONS request that is not a CORS preflight: the methods, nothing else (RFC 9110 §9.3.7).
    if (ctx.method === 'OPTIONS' && allowed.includes('OPTIONS')) {
      ctx.status = 204;
      ctx.set('Allow', allowed.join(', '));
      return;
    }
    errors.render(ctx, notRouted(ctx.method, ctx.path, allowed), 'negotiate');
  };
}
