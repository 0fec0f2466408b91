import type { Context, Middleware } from 'koa';
import { isDatabaseUnavailable, isUnstorableTextError } from '../db/prisma.js';
import type { Logger } from '../log.js';
import { AppError } from './errors.js';
import type { PageRenderer } from './pages.js';
import { RETRY_LATER } from './unavailable.js';

/** What an error becomes in a response. */
export interface Failure {
  readonly status: number;
  readonly code: string;
  readonly description: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * How a failure is shown. `json`: always `{ error, error_description }` (the
 * admin API). `page`: the HTML error page unless the client asks for JSON
 * (Gatehouse's pages). `negotiate`: JSON unless the client prefers HTML
 * (protocol endpoints and unknown routes, the rule oidc-provider follows).
 */
export type ErrorFormat = 'json' | 'page' | 'negotiate';

const UNEXPECTED: Failure = { status: 500, code: 'server_error', description: 'unexpected error', headers: {} };

/**
 * Maps anything thrown to a failure: AppError as it is; oidc-provider's
 * errors and koa's client errors (body too large, malformed, bad encoding)
 * keep their 4xx status; anything else is a 500 that says nothing more.
 */
export function describeError(error: unknown): Failure {
  if (error instanceof AppError) return { status: error.status, code: error.code, description: error.description, headers: error.headers };
  if (!error || typeof error !== 'object') return UNEXPECTED;
  // A stalled or unreachable database (query and connect timeouts): the client may retry.
  if (isDatabaseUnavailable(error)) {
    return {
      status: 503,
      code: 'temporarily_unavailable',
      description: 'the service is temporarily unavailable; try again shortly',
      headers: RETRY_LATER,
    };
  }
  // A safety net under input validation: Postgres refused a NUL byte or a lone surrogate the caller sent.
  if (isUnstorableTextError(error)) {
    return {
      status: 400,
      code: 'invalid_request',
      description: 'the request contains a NUL character or an unpaired surrogate',
      headers: {},
    };
  }
  const {
    status,
    statusCode,
    expose,
    code,
    error: oauthCode,
    error_description: oauthDescription,
    message,
  } = error as Record<string, unknown>;
  // zlib, under the body parsers: the body is not what its Content-Encoding says.
  if (typeof code === 'string' && code.startsWith('Z_')) {
    return { status: 400, code: 'invalid_request', description: 'the request body does not match its Content-Encoding', headers: {} };
  }
  const httpStatus = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : 500;
  if (httpStatus < 400 || httpStatus >= 500 || expose === false) return UNEXPECTED;
  // oidc-provider's errors carry the OAuth code as `error` and the explanation apart.
  if (typeof oauthCode === 'string') {
    return {
      status: httpStatus,
      code: oauthCode,
      description: typeof oauthDescription === 'string' ? oauthDescription : oauthCode,
      headers: {},
    };
  }
  const description = typeof message === 'string' ? message : 'invalid request';
  if (httpStatus === 413) return { status: 413, code: 'request_too_large', description, headers: {} };
  if (httpStatus === 415) return { status: 415, code: 'unsupported_media_type', description, headers: {} };
  return { status: httpStatus, code: 'invalid_request', description, headers: {} };
}

export interface ErrorRenderer {
  /** Renders what was thrown; a 500 is logged with its stack and shown without details. */
  render(ctx: Context, error: unknown, format: ErrorFormat): void;
  /** Renders a failure already described (oidc-provider's `renderError` hands one over). */
  write(ctx: Context, failure: Failure, format: ErrorFormat): void;
  /** Catches what the rest of the chain throws and renders it. */
  middleware(format: ErrorFormat | ((ctx: Context) => ErrorFormat)): Middleware;
}

/**
 * The one place an error becomes a response: JSON `{ error, error_description }`
 * for APIs and protocol endpoints, the HTML error page for browsers.
 */
export function createErrorRenderer(pages: PageRenderer, log: Logger): ErrorRenderer {
  const write = (ctx: Context, failure: Failure, format: ErrorFormat) => {
    ctx.status = failure.status;
    for (const [name, value] of Object.entries(failure.headers)) ctx.set(name, value);
    ctx.set('Cache-Control', 'no-store');
    if (wantsHtml(ctx, format)) {
      ctx.type = 'html';
      ctx.body = pages.render('error', {
        title: failure.status === 404 ? 'Not found' : 'Something went wrong',
        error: failure.code,
        description: failure.status >= 500 ? 'Something went wrong on our side. Try again in a moment.' : failure.description,
      });
    } else {
      ctx.body = { error: failure.code, error_description: failure.description };
    }
  };
  const render = (ctx: Context, error: unknown, format: ErrorFormat) => {
    const failure = describeError(error);
    if (failure.status >= 500)
      log.error(`${ctx.method} ${ctx.path} failed: ${String(error instanceof Error ? error.message : error).split('\n')[0]}`, {
        err: error,
      });
    write(ctx, failure, format);
  };
  return {
    render,
    write,
    middleware(format) {
      return async (ctx, next) => {
        try {
          await next();
        } catch (error) {
          render(ctx, error, typeof format === 'function' ? format(ctx) : format);
        }
      };
    },
  };
}

function wantsHtml(ctx: Context, format: ErrorFormat): boolean {
  if (format === 'json') return false;
  if (format === 'page') return ctx.accepts('html', 'json') === 'html';
  return ctx.accepts('json', 'html') === 'html';
}
