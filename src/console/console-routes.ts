import type { KeyObject } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuditLog } from '../audit/events.js';
import { describeError } from '../http/error-renderer.js';
import { csrfToken, csrfTokenValid } from '../interactions/csrf.js';
import type { Logger } from '../log.js';
import { cookie, SESSION_COOKIE, readCookie, type ConsoleAdmin, type ConsoleAuth } from './console-auth.js';
import { CONSOLE_CLIENT_ID, CONSOLE_SIGNED_OUT_PATH } from './console-client.js';
import { consoleSessionHash, type ConsoleSessionStore } from './console-session.js';
import type { ConsoleSignOut } from './console-sign-out.js';
import type { ConsoleViews } from './console-views.js';

/** What a console page's handler gets: the request, the admin, the form, and how to answer. */
export interface ConsolePage {
  readonly ctx: Context;
  readonly admin: ConsoleAdmin;
  /** The submitted form (POST), else empty. */
  readonly form: Record<string, unknown>;
  /** Renders views/console/NAME.html in the console layout (the CSRF token is added). */
  render(name: string, view: { title: string; area: string } & Record<string, unknown>, status?: number): void;
}

export type ConsoleHandler = (page: ConsolePage) => Promise<void>;

/** One area's pages: paths below /console (koa-style, e.g. `/applications/:id`) for GET and POST. */
export interface ConsoleArea {
  readonly get?: Record<string, ConsoleHandler>;
  readonly post?: Record<string, ConsoleHandler>;
}

export interface ConsoleRouteDependencies {
  readonly auth: ConsoleAuth;
  readonly sessions: ConsoleSessionStore;
  readonly signOut: ConsoleSignOut;
  readonly views: ConsoleViews;
  readonly csrfKey: KeyObject;
  readonly issuer: string;
  readonly https: boolean;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly areas: readonly ConsoleArea[];
}

/** "redirect_uris: x must use https" → "Redirect URIs: x must use https." */
export function sentence(description: string, labels: Record<string, string> = {}): string {
  let text = description;
  for (const [field, label] of Object.entries(labels)) {
    if (text.startsWith(`${field}`)) text = `${label}${text.slice(field.length).replace(/^\.\d+/, '')}`;
  }
  text = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** A form value as text ('' when absent or not text). */
export const field = (form: Record<string, unknown>, name: string): string => {
  const value = form[name];
  return typeof value === 'string' ? value : '';
};

/** A form's checkboxes or repeated fields of one name, as a list. */
export const fields = (form: Record<string, unknown>, name: string): string[] => {
  const value = form[name];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return typeof value === 'string' ? [value] : [];
};

/** Lines of a textarea, trimmed, empty ones left out. */
export const lines = (text: string): string[] =>
  text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);

/**
 * /console: the admin console. Public are only the sign-in's return
 * (callback) and the signed-out page; every other page needs a console
 * session of a user whose roles grant admin permissions, and every POST a
 * CSRF token bound to that session.
 */
export function consoleRoutes(deps: ConsoleRouteDependencies): Router {
  const router = new Router({ prefix: '/console' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '64kb', encoding: 'utf-8' });
  const csrfOf = (admin: ConsoleAdmin) => csrfToken(deps.csrfKey, `console:${admin.session.idHash}`);
  const sessionCookie = (value: string, maxAge?: number) =>
    cookie(SESSION_COOKIE, value, { https: deps.https, sameSite: 'Strict', ...(maxAge !== undefined ? { maxAge } : {}) });

  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });

  router.get('/callback', async (ctx) => {
    const result = await deps.auth.finishSignIn(ctx);
    if (!result.ok) {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = deps.views.bare('problem', { title: 'Sign-in failed', heading: 'Sign-in failed', message: result.reason });
      return;
    }
    const audit = { actor: `user:${result.userId}`, requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip };
    const { user, allowed } = await deps.auth.entrant(result.userId);
    if (!allowed) {
      await deps.audit.record(audit, { type: 'console.access_denied', subject: result.userId });
      ctx.status = 403;
      ctx.type = 'html';
      ctx.body = deps.views.bare('forbidden', {
        title: 'No access',
        email: user?.email ?? 'an account that is disabled',
        signOutUrl: endSessionUrl(deps.issuer, deps.auth.endSessionHint(result.idToken)),
      });
      return;
    }
    const origin = await deps.signOut.originOf(ctx, result.userId);
    ctx.append('Set-Cookie', sessionCookie(await deps.sessions.start(result.userId, origin)));
    await deps.audit.record(audit, { type: 'console.signed_in', subject: result.userId });
    ctx.status = 303;
    ctx.redirect(result.returnTo);
  });

  router.get('/signed-out', (ctx) => {
    ctx.type = 'html';
    ctx.body = deps.views.bare('signed-out', { title: 'Signed out', message: 'You are signed out of the Gatehouse console.' });
  });

  // Sign-out ends the console session and the Gatehouse session it was signed in from, together, then says so.
  router.post('/sign-out', form, async (ctx) => {
    const token = readCookie(ctx, SESSION_COOKIE) ?? '';
    const body = (ctx.request.body ?? {}) as Record<string, unknown>;
    // No cookie (a second click, or a cross-site POST: the cookie is SameSite=Strict): nothing to end.
    if (token && !csrfTokenValid(deps.csrfKey, `console:${consoleSessionHash(token)}`, body.csrf)) {
      const message = 'The form expired or did not come from this site; please try again.';
      const admin = await deps.auth.adminOf(ctx);
      if (admin) return problem(ctx, deps, 403, message, admin);
      return bareProblem(ctx, deps, 403, 'Not allowed', message);
    }
    try {
      await deps.signOut.signOut(ctx, token);
    } catch (error) {
      // Nothing ended (one transaction): the admin is still signed in, and may try again.
      const failure = describeError(error);
      if (failure.status === 503) deps.log.warn('console sign-out: the database did not answer; nothing was ended');
      else deps.log.error(`${ctx.method} ${ctx.path} failed`, { err: error });
      return bareProblem(
        ctx,
        deps,
        503,
        'Signing out did not work',
        'Signing out could not be completed just now, so you are still signed in. Please try again.',
      );
    }
    ctx.append('Set-Cookie', sessionCookie('', 0));
    ctx.status = 303;
    ctx.redirect(CONSOLE_SIGNED_OUT_PATH);
  });

  const handle = (handler: ConsoleHandler, isPost: boolean) => async (ctx: Context) => {
    const admin = await deps.auth.adminOf(ctx);
    if (!admin) {
      // No session, an idle one, or one whose user is no longer an admin: sign in (again).
      if (readCookie(ctx, SESSION_COOKIE)) ctx.append('Set-Cookie', sessionCookie('', 0));
      return deps.auth.startSignIn(ctx);
    }
    const body = (isPost ? (ctx.request.body ?? {}) : {}) as Record<string, unknown>;
    if (isPost && !csrfTokenValid(deps.csrfKey, `console:${admin.session.idHash}`, body.csrf)) {
      return problem(ctx, deps, 403, 'The form expired or did not come from this site; please try again.', admin);
    }
    const page: ConsolePage = {
      ctx,
      admin,
      form: body,
      render(name, view, status = 200) {
        ctx.status = status;
        ctx.type = 'html';
        ctx.body = deps.views.page(name, admin, { ...view, csrf: csrfOf(admin) });
      },
    };
    try {
      await handler(page);
    } catch (error) {
      const failure = describeError(error);
      if (failure.status >= 500 && failure.status !== 503) {
        deps.log.error(`${ctx.method} ${ctx.path} failed`, { err: error });
        return problem(ctx, deps, 500, 'Something went wrong on our side. Please try again.', admin);
      }
      return problem(ctx, deps, failure.status, sentence(failure.description), admin);
    }
  };

  for (const area of deps.areas) {
    for (const [path, handler] of Object.entries(area.get ?? {})) router.get(path, handle(handler, false));
    for (const [path, handler] of Object.entries(area.post ?? {})) router.post(path, form, handle(handler, true));
  }
  return router;
}

function problem(ctx: Context, deps: ConsoleRouteDependencies, status: number, message: string, admin: ConsoleAdmin): void {
  ctx.status = status;
  ctx.type = 'html';
  const heading =
    status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : status >= 500 ? 'Something went wrong' : 'That did not work';
  ctx.body = deps.views.page('problem', admin, {
    title: heading,
    area: '',
    heading,
    message,
    csrf: csrfToken(deps.csrfKey, `console:${admin.session.idHash}`),
  });
}

function bareProblem(ctx: Context, deps: ConsoleRouteDependencies, status: number, heading: string, message: string): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = deps.views.bare('problem', { title: heading, heading, message });
}

/**
 * OIDC RP-Initiated Logout 1.0 §2: back to the console's signed-out page. Only
 * for a signed-in user the console refuses (no console session to sign out of).
 */
function endSessionUrl(issuer: string, idTokenHint: string | undefined): string {
  const query = new URLSearchParams({
    ...(idTokenHint ? { id_token_hint: idTokenHint } : {}),
    client_id: CONSOLE_CLIENT_ID,
    post_logout_redirect_uri: `${issuer}${CONSOLE_SIGNED_OUT_PATH}`,
  });
  return `/session/end?${query}`;
}
