import type { Middleware } from 'koa';
import type { Logger } from '../log.js';
import { AppError } from './errors.js';

/**
 * Renders errors from Gatehouse's own routes as JSON `{ error, error_description }`.
 * Client errors thrown by koa middleware (body too large, malformed body)
 * keep their 4xx status; anything else is a logged 500 that says nothing more.
 */
export function errorMiddleware(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const { status, code, description } = describe(error);
      if (status >= 500) log.error(`${ctx.method} ${ctx.path} failed`, { err: error });
      ctx.status = status;
      ctx.body = { error: code, error_description: description };
    }
  };
}

export function describe(error: unknown): { status: number; code: string; description: string } {
  if (error instanceof AppError) return { status: error.status, code: error.code, description: error.description };
  const { status, error_description: oauthDescription } = error as { status?: unknown; error_description?: unknown };
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code = status === 413 ? 'request_too_large' : 'invalid_request';
    // oidc-provider's errors carry the code as message and the explanation apart.
    const description = typeof oauthDescription === 'string' ? oauthDescription : (error as Error).message;
    return { status, code, description };
  }
  return { status: 500, code: 'server_error', description: 'unexpected error' };
}
