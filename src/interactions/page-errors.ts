import type { Middleware } from 'koa';
import { createErrorRenderer } from '../http/error-renderer.js';
import { AppError } from '../http/errors.js';
import type { PageRenderer } from '../http/pages.js';
import type { Logger } from '../log.js';
import { isExpiredInteraction } from '../oidc/interaction-steps.js';

const EXPIRED = new AppError(400, 'invalid_request', 'This sign-in request has expired or was already completed.');

/**
 * Errors on the pages of a sign-in in progress (/interaction/:uid/…) are the
 * error page (JSON only for a client that asks for it); an interaction that
 * expired or was completed says so in a sentence.
 */
export function interactionPageErrors(pages: PageRenderer, log: Logger): Middleware {
  const errors = createErrorRenderer(pages, log);
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      errors.render(ctx, isExpiredInteraction(error) ? EXPIRED : error, 'page');
    }
  };
}
