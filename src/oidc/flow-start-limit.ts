import type { Middleware, Next, ParameterizedContext } from 'koa';
import type { PageRenderer } from '../http/pages.js';
import { ipCounterKey, type RequestCounters } from '../http/request-counters.js';

const WINDOW_SECONDS = 60;

/**
 * Each authorization request stores an Interaction and each device
 * authorization a DeviceCode: per client IP, at most `perMinute` of them, so
 * anonymous requests cannot grow the database without bound. oidc-provider's
 * router runs after this and matches paths case-insensitively with an
 * optional trailing slash; so does this.
 */
export function flowStartLimit(counters: RequestCounters, perMinute: number, pages: PageRenderer): Middleware {
  const limitFlowStart = async (ctx: ParameterizedContext, next: Next, kind: 'authorization' | 'device') => {
    const { count, retryAfterSeconds } = await counters.hit(ipCounterKey('flow-start', ctx.ip), WINDOW_SECONDS);
    if (count <= perMinute) return next();
    ctx.status = 429;
    ctx.set('Retry-After', String(retryAfterSeconds));
    ctx.set('Cache-Control', 'no-store');
    // RFC 6749 §4.1.2.1 temporarily_unavailable: the server cannot take the request now.
    const description = 'Too many sign-in requests from this address; try again in a minute.';
    if (kind === 'device') {
      ctx.body = { error: 'temporarily_unavailable', error_description: description };
      return;
    }
    ctx.type = 'html';
    ctx.body = pages.render('error', { title: 'Sign-in error', error: 'temporarily_unavailable', description });
  };
  // Every other request (a token request among them) passes with no async frame of its own.
  return (ctx, next) => {
    const kind = flowStartOf(ctx.method, ctx.path);
    return kind ? limitFlowStart(ctx, next, kind) : next();
  };
}

function flowStartOf(method: string, path: string): 'authorization' | 'device' | undefined {
  const normalized = path.replace(/\/$/, '').toLowerCase();
  if (normalized === '/auth' && (method === 'GET' || method === 'POST')) return 'authorization';
  if (normalized === '/device/auth' && method === 'POST') return 'device';
  return undefined;
}
