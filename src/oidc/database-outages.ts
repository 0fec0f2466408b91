import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/prisma.js';
import type { PageRenderer } from '../http/pages.js';
import { RETRY_AFTER_SECONDS } from '../http/unavailable.js';
import type { Logger } from '../log.js';

/**
 * oidc-provider turns any error from storage into a 500 `server_error`. When
 * the database is unreachable or stalled (query and connect timeouts), the
 * client should instead hear that it may retry: 503 `temporarily_unavailable`
 * (RFC 6749 §4.1.2.1 names the code) with Retry-After. The `server_error`
 * event marks the request; the middleware rewrites the answer.
 */
export function databaseOutageAnswers(pages: PageRenderer, log: Logger) {
  const unavailable = new WeakSet<object>();
  return {
    /** Listener for oidc-provider's `server_error` event. */
    onServerError(ctx: KoaContextWithOIDC, error: Error): void {
      if (isDatabaseUnavailable(error)) {
        unavailable.add(ctx);
        log.warn(`${ctx.method} ${ctx.path}: database unavailable (${error.message.split('\n').at(-1)?.trim() ?? 'error'}): answered 503`);
        return;
      }
      log.error(`oidc-provider server_error: ${error.message}`);
    },
    /** Install with `provider.use`. */
    middleware(): Middleware {
      return async function answer503WhenTheDatabaseIsDown(ctx, next) {
        await next();
        if (!unavailable.has(ctx)) return;
        const description = 'the service is temporarily unavailable; try again shortly';
        ctx.status = 503;
        ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
        ctx.set('Cache-Control', 'no-store');
        if (ctx.response.is('html')) {
          ctx.body = pages.render('error', { title: 'Temporarily unavailable', error: 'temporarily_unavailable', description });
        } else {
          ctx.body = { error: 'temporarily_unavailable', error_description: description };
        }
      };
    },
  };
}
