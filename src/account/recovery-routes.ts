import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountRecovery } from '../accounts/account-recovery.js';
import { createErrorRenderer, describeError as describe } from '../http/error-renderer.js';
import { isStorableText } from '../http/storable-text.js';
import type { PageName, PageRenderer } from '../http/pages.js';
import type { Logger } from '../log.js';

export interface RecoveryRouteDependencies {
  readonly recovery: AccountRecovery;
  readonly pages: PageRenderer;
  readonly log: Logger;
  readonly passwordMinLength: number;
}

/** The paths these routes answer (for the app's own-path check). */
export const RECOVERY_PATHS = ['/forgot-password', '/reset-password', '/verify-email'] as const;

const text = (value: unknown) => (typeof value === 'string' ? value : '');
/** An interaction uid as oidc-provider makes them, else nothing. */
const interactionUidOf = (value: unknown) => (typeof value === 'string' && /^[\w-]{1,64}$/.test(value) ? value : undefined);

/**
 * "Forgot your password?" → a single-use link by email → a new password; and
 * email verification links. Pages, never JSON; a bad link is a plain sentence.
 */
export function recoveryRoutes(deps: RecoveryRouteDependencies): Router {
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });
  const origin = (ctx: Context) => ({ actor: 'anonymous', requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip });

  // Errors on these pages are the error page (a bad or used link: a plain sentence).
  const errors = createErrorRenderer(deps.pages, deps.log);
  router.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      errors.render(ctx, error, 'page');
    }
  });

  router.get('/forgot-password', (ctx) => {
    render(ctx, deps, 'forgot-password', {
      title: 'Forgot your password?',
      interaction: interactionUidOf(ctx.query.interaction),
      unavailable: !deps.recovery.available,
    });
  });

  router.post('/forgot-password', form, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const interaction = interactionUidOf(body.interaction);
    const view = { title: 'Forgot your password?', interaction, unavailable: !deps.recovery.available };
    if (!deps.recovery.available) {
      ctx.status = 503;
      return render(ctx, deps, 'forgot-password', view);
    }
    const email = text(body.email).trim();
    if (!/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 320 || !isStorableText(email)) {
      ctx.status = 400;
      return render(ctx, deps, 'forgot-password', { ...view, error: 'Enter the email address of your account.' });
    }
    const answer = await deps.recovery.requestPasswordReset(email, ctx.ip, interaction);
    if (answer !== 'answered') {
      ctx.status = 429;
      ctx.set('Retry-After', String(answer.ipLimited));
      return render(ctx, deps, 'forgot-password', {
        ...view,
        error: `Too many requests from this address, try again in ${Math.ceil(answer.ipLimited / 60)} minutes.`,
      });
    }
    render(ctx, deps, 'forgot-password', { ...view, sent: true });
  });

  router.get('/reset-password', async (ctx) => {
    const token = text(ctx.query.token);
    const user = await deps.recovery.resetLinkAccount(token);
    render(ctx, deps, 'reset-password', { title: 'Choose a new password', token, email: user.email, minLength: deps.passwordMinLength });
  });

  router.post('/reset-password', form, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const token = text(body.token);
    const user = await deps.recovery.resetLinkAccount(token);
    try {
      const { interactionUid } = await deps.recovery.resetPassword(token, text(body.password), origin(ctx));
      render(ctx, deps, 'notice', {
        title: 'Password changed',
        heading: 'Password changed',
        message: 'Your password was changed, and you were signed out everywhere else. Sign in with your new password.',
        continueUrl: interactionUid ? `/interaction/${interactionUid}` : undefined,
      });
    } catch (error) {
      const failure = describe(error);
      if (failure.code !== 'invalid_password') throw error;
      ctx.status = 400;
      render(ctx, deps, 'reset-password', {
        title: 'Choose a new password',
        token,
        email: user.email,
        minLength: deps.passwordMinLength,
        error: sentence(failure.description),
      });
    }
  });

  router.get('/verify-email', async (ctx) => {
    const token = text(ctx.query.token);
    const user = await deps.recovery.verificationLinkAccount(token);
    render(ctx, deps, 'verify-email', { title: 'Confirm your email address', token, email: user.email });
  });

  router.post('/verify-email', form, async (ctx) => {
    const body = ctx.request.body as Record<string, unknown>;
    const user = await deps.recovery.verifyEmail(text(body.token), origin(ctx));
    render(ctx, deps, 'notice', {
      title: 'Email confirmed',
      heading: 'Email confirmed',
      message: `${user.email} is confirmed as your email address.`,
    });
  });

  return router;
}

/** "password must be …" → "Your password must be …." */
function sentence(description: string): string {
  const text = description.replace(/^password /, 'Your password ');
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** A page of these flows: never cached (it may carry a link's token). */
function render(ctx: Context, deps: RecoveryRouteDependencies, page: PageName, view: { title: string } & Record<string, unknown>): void {
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = deps.pages.render(page, view);
}
