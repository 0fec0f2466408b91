import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/prisma.js';
import { describeError, type ErrorRenderer, type Failure } from '../http/error-renderer.js';
import type { Logger } from '../log.js';

/**
 * oidc-provider turns any error from storage into a 500 `server_error`. When
 * the database is unreachable or stalled (query and connect timeouts), the
 * client should instead hear that it may retry: 503 `temporarily_unavailable`
 * (RFC 6749 §4.1.2.1 names the code) with Retry-After, as describeError
 * describes it. The `server_error` event marks the request; the middleware
 * has the one renderer write the answer again.
 */
export function databaseOutageAnswers(renderer: ErrorRenderer, log: Logger) {
  const unavailable = new WeakMap<object, Failure>();
  return {
    /** Listener for oidc-provider's `server_error` event. */
    onServerError(ctx: KoaContextWithOIDC, error: Error): void {
      if (isDatabaseUnavailable(error)) {
        unavailable.set(ctx, describeError(error));
        log.warn(`${ctx.method} ${ctx.path}: database unavailable (${error.message.split('\n').at(-1)?.trim() ?? 'error'}): answered 503`);
        return;
      }
      log.error('oidc-provider server_error', { err: error });
    },
    /** Install with `provider.use`. */
    middleware(): Middleware {
      return async function answer503WhenTheDatabaseIsDown(ctx, next) {
        await next();
        const failure = unavailable.get(ctx);
        if (failure && !ctx.headerSent) renderer.write(ctx, failure, 'negotiate');
      };
    },
  };
}
