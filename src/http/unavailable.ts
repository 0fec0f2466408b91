import type { Middleware } from 'koa';

/**
 * Seconds a client is told to wait (RFC 9110 §10.2.3 Retry-After) when a
 * request could not be served for now: the database is not answering, or too
 * many sign-ins are queued.
 */
export const RETRY_AFTER_SECONDS = 5;

/** Every 503 from Gatehouse's own routes (pages, admin API) says when to retry. */
export function retryAfterOn503(): Middleware {
  return async function sayWhenToRetry(ctx, next) {
    await next();
    if (ctx.status === 503 && !ctx.headerSent && !ctx.response.get('Retry-After')) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  };
}
