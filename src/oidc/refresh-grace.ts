import { AsyncLocalStorage } from 'node:async_hooks';
import type { Middleware } from 'koa';
import type { RefreshTokenSuccessors } from './refresh-token-successors.js';

/**
 * Refresh-token retries (GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE). A client whose
 * refresh response was lost (a crash, a timeout, a dropped connection), or
 * that refreshed concurrently, presents the just-consumed token again. Within
 * the grace window, and while the successor is unused, it gets the same
 * successor back with a new access token for the same grant: never a second
 * live refresh token, never a revoked family. Outside it, reuse revokes the
 * grant as RFC 9700 §4.14.2 describes.
 *
 * oidc-provider's refresh_token grant reads, consumes, then saves the new
 * token; the adapter calls the hooks below at each step, and the middleware
 * puts the remembered successor into the response.
 */
export interface RefreshRetries {
  readonly successors: RefreshTokenSuccessors;
  /** The token request in progress, if any (set by `middleware`). */
  current(): RefreshAttempt | undefined;
  /** Install with `provider.use`: scopes an attempt to each token request. */
  middleware(): Middleware;
}

/** What one token request learned while oidc-provider ran its refresh grant. */
export interface RefreshAttempt {
  /** The presented refresh token, once oidc-provider consumed it: the rotation happens when its successor is saved. */
  consuming?: string;
  /** The successor to answer with, when the presented token was retried within the window. */
  successor?: string;
}

export function createRefreshRetries(successors: RefreshTokenSuccessors): RefreshRetries {
  const attempts = new AsyncLocalStorage<RefreshAttempt>();
  return {
    successors,
    current: () => attempts.getStore(),
    middleware: () =>
      async function answerRetriesWithTheSameSuccessor(ctx, next) {
        if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
        const attempt: RefreshAttempt = {};
        await attempts.run(attempt, next);
        const body = ctx.body as Record<string, unknown> | undefined;
        if (attempt.successor && ctx.status === 200 && typeof body?.refresh_token === 'string') {
          ctx.body = { ...body, refresh_token: attempt.successor };
        }
      },
  };
}
