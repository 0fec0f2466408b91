import type { Middleware } from 'koa';
import { engineRequestContext } from './provider-internals.js';
import type { RefreshTokenSuccessors } from './refresh-token-successors.js';

/**
 * What the adapter needs to know about the token request it serves, which
 * oidc-provider does not pass to it: whether the client is still there, and
 * what a refresh-token retry learned.
 *
 * Refresh-token retries (GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE): a client whose
 * refresh response was lost (a crash, a timeout, a dropped connection), or
 * that refreshed concurrently, presents the just-consumed token again. Within
 * the grace window, and while the successor is unused, it gets the same
 * successor back with a new access token for the same grant: never a second
 * live refresh token, never a revoked family. Outside it, reuse revokes the
 * grant as RFC 9700 §4.14.2 describes. oidc-provider's refresh_token grant
 * reads, consumes, then saves the new token; the adapter does the rotation
 * when the new token is saved, and the middleware puts the remembered
 * successor into the response.
 */
export interface TokenRequests {
  /** Present when the reuse grace window is on. */
  readonly successors: RefreshTokenSuccessors | undefined;
  /** The token request in progress, if any (set by `middleware`). */
  current(): TokenRequest | undefined;
  /** Install with `provider.use`: scopes a TokenRequest to each token-endpoint request. */
  middleware(): Middleware;
}

export interface TokenRequest {
  /** Whether the client closed its connection: nothing single-use may be consumed for it then. */
  clientGone(): boolean;
  /** The presented refresh token, once oidc-provider consumed it: the rotation happens when its successor is saved. */
  consuming?: string;
  /** The successor to answer with, when the presented token was retried within the window. */
  successor?: string;
}

export function createTokenRequests(successors?: RefreshTokenSuccessors): TokenRequests {
  // Keyed by the request's own context, which the adapter reaches through the
  // engine (provider-internals.ts): no AsyncLocalStorage of our own.
  const requests = new WeakMap<object, TokenRequest>();
  return {
    successors,
    current: () => {
      const ctx = engineRequestContext();
      return ctx ? requests.get(ctx) : undefined;
    },
    middleware: () =>
      async function scopeTokenRequest(ctx, next) {
        if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
        const request: TokenRequest = { clientGone: () => ctx.res.closed || ctx.req.socket.destroyed };
        requests.set(ctx, request);
        try {
          await next();
          const body = ctx.body as Record<string, unknown> | undefined;
          if (request.successor && ctx.status === 200 && typeof body?.refresh_token === 'string') {
            ctx.body = { ...body, refresh_token: request.successor };
          }
        } finally {
          // The entry's value refers to its key (clientGone's ctx): left to
          // the WeakMap, V8's scavenges keep the whole request alive until a
          // full collection (docs/performance.md, "Client credentials
          // (eighth round)"). Deleting it lets the request die young.
          requests.delete(ctx);
        }
      },
  };
}
