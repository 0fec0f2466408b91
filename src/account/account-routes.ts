import { randomBytes, type KeyObject } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountRecovery } from '../accounts/account-recovery.js';
import { judged, tooManyAttempts, type LoginThrottle } from '../accounts/login-throttle.js';
import type { User, UserService } from '../accounts/users.js';
import type { AuditContext } from '../audit/events.js';
import { describeError as describe } from '../http/error-renderer.js';
import { AppError } from '../http/errors.js';
import type { PageRenderer } from '../http/pages.js';
import { csrfToken, csrfTokenValid } from '../interactions/csrf.js';
import type { Logger } from '../log.js';
import { signedInSession, type SignedInSession } from '../oidc/provider-internals.js';
import { accountOfThisRequest } from '../oidc/request-memo.js';
import type { ProviderRef } from '../oidc/interaction-steps.js';
import type { SessionActivityStore } from './session-activity.js';

/** The first-party client the account page signs in with (through the usual login page). */
export const ACCOUNT_CLIENT_ID = 'gatehouse-account';
export const ACCOUNT_CALLBACK_PATH = '/account/callback';
export const ACCOUNT_PATHS = [
  '/account',
  ACCOUNT_CALLBACK_PATH,
  '/account/name',
  '/account/password',
  '/account/verify-email',
  '/account/sessions/end',
  '/account/sessions/end-others',
] as const;

export interface AccountPageDependencies {
  readonly provider: ProviderRef;
  readonly users: UserService;
  readonly recovery: AccountRecovery;
  readonly sessions: SessionActivityStore;
  /** The current password is guessed no faster here than on the login page. */
  readonly loginThrottle: LoginThrottle;
  readonly pages: PageRenderer;
  readonly csrfKey: KeyObject;
  readonly issuer: string;
  readonly log: Logger;
  readonly passwordMinLength: number;
  /** Further sections (two-step verification, src/mfa/). */
  readonly sections?: readonly AccountSection[];
}

/** Who is on the account page: their session and account. */
export interface Visitor {
  readonly session: SignedInSession;
  readonly user: User;
  readonly audit: AuditContext;
}

/**
 * A section of the account page: what it adds to the page, and the forms it
 * answers. Profile, password and sessions are the first; a later one (e.g.
 * two-factor) adds its block to views/account.html and a section here.
 */
export interface AccountSection {
  view(visitor: Visitor): Promise<Record<string, unknown>>;
  /** POST /account/<path> → a notice for the page (and what it shows once); AppError for a sentence of what is wrong. */
  readonly actions: Record<
    string,
    (visitor: Visitor, body: Record<string, unknown>) => Promise<string | { notice: string; view: Record<string, unknown> }>
  >;
}

const text = (value: unknown) => (typeof value === 'string' ? value : '');

/**
 * The account page (/account): signs in through Gatehouse's own login page
 * (as the first-party client gatehouse-account), then shows the user's
 * profile, password and sessions.
 */
export function accountRoutes(deps: AccountPageDependencies): Router {
  const router = new Router({ prefix: '/account' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });
  const sections = [profileSection(deps), passwordSection(deps), sessionsSection(deps), ...(deps.sections ?? [])];

  router.get('/', async (ctx) => {
    const visitor = await visitorOf(ctx, deps);
    if (!visitor) return signIn(ctx, deps);
    await render(ctx, deps, sections, visitor, {});
  });

  // The sign-in came back: the browser session now says who it is.
  router.get('/callback', (ctx) => {
    ctx.status = 303;
    ctx.redirect('/account');
  });

  for (const section of sections) {
    for (const [path, action] of Object.entries(section.actions)) {
      router.post(`/${path}`, form, async (ctx) => {
        const visitor = await visitorOf(ctx, deps);
        if (!visitor) return signIn(ctx, deps);
        const body = ctx.request.body as Record<string, unknown>;
        if (!csrfTokenValid(deps.csrfKey, `account:${visitor.session.uid}`, body.csrf)) {
          ctx.status = 403;
          return render(ctx, deps, sections, visitor, { error: 'The form expired or did not come from this site; please try again.' });
        }
        try {
          const result = await action(visitor, body);
          // The action may have changed the user (name, verification).
          const user = (await deps.users.findUserById(visitor.user.id)) ?? visitor.user;
          await render(
            ctx,
            deps,
            sections,
            { ...visitor, user },
            typeof result === 'string' ? { notice: result } : { notice: result.notice, ...result.view },
          );
        } catch (error) {
          const failure = describe(error);
          if (failure.status === 500) {
            deps.log.error(`${ctx.method} ${ctx.path} failed: ${(error as Error).stack ?? String(error)}`);
            ctx.status = 500;
            return render(ctx, deps, sections, visitor, { error: 'Something went wrong on our side. Please try again.' });
          }
          ctx.status = failure.status;
          ctx.set(failure.headers); // Retry-After on a 429 or 503
          await render(ctx, deps, sections, visitor, { error: sentence(failure.description) });
        }
      });
    }
  }
  return router;
}

async function visitorOf(ctx: Context, deps: AccountPageDependencies): Promise<Visitor | undefined> {
  const session = await signedInSession(deps.provider, ctx.req, ctx.res);
  // The session's lookup read its user with it (src/oidc/prisma-adapter.ts).
  const user = session ? await accountOfThisRequest(session.accountId, (id) => deps.users.findUserById(id)) : null;
  if (!session || !user || user.disabled) return undefined;
  return { session, user, audit: { actor: `user:${user.id}`, requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip } };
}

/** Not signed in: through the usual sign-in, as the account page's own client (RFC 7636 S256, as every client). */
function signIn(ctx: Context, deps: AccountPageDependencies): void {
  const query = new URLSearchParams({
    client_id: ACCOUNT_CLIENT_ID,
    redirect_uri: `${deps.issuer}${ACCOUNT_CALLBACK_PATH}`,
    response_type: 'code',
    scope: 'openid',
    // The code is never exchanged: the page reads the browser session the sign-in created.
    code_challenge: randomBytes(32).toString('base64url'),
    code_challenge_method: 'S256',
  });
  ctx.set('Cache-Control', 'no-store');
  ctx.status = 303;
  ctx.redirect(`/auth?${query}`);
}

async function render(
  ctx: Context,
  deps: AccountPageDependencies,
  sections: AccountSection[],
  visitor: Visitor,
  message: { notice?: string; error?: string } & Record<string, unknown>,
): Promise<void> {
  const views = await Promise.all(sections.map((section) => section.view(visitor)));
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = deps.pages.render('account', {
    title: 'Your account',
    csrf: csrfToken(deps.csrfKey, `account:${visitor.session.uid}`),
    minLength: deps.passwordMinLength,
    ...Object.assign({}, ...views),
    ...message,
  });
}

function profileSection(deps: AccountPageDependencies): AccountSection {
  return {
    view: async ({ user }) => ({
      name: user.name ?? '',
      email: user.email,
      emailVerified: user.emailVerified,
      canVerify: deps.recovery.available,
    }),
    actions: {
      name: async ({ user, audit }, body) => {
        const name = text(body.name).trim();
        if (name.length > 200) throw new AppError(400, 'invalid_name', 'Your name must be at most 200 characters.');
        await deps.users.updateUser(user.id, { name: name || null }, audit);
        return 'Your name was saved.';
      },
      'verify-email': async ({ user }) => {
        if (user.emailVerified) return 'Your email address is already verified.';
        const sent = await deps.recovery.sendVerificationEmail(user);
        if (sent !== 'sent') {
          const minutes = Math.max(1, Math.ceil(sent.limitedForSeconds / 60));
          throw new AppError(
            429,
            'too_many_requests',
            `No link was sent: ${user.email} was already sent ${sent.perHour} verification links this hour. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
            // RFC 9110 §10.2.3: seconds until the address's window ends.
            { 'Retry-After': String(sent.limitedForSeconds) },
          );
        }
        return `We sent a verification link to ${user.email}.`;
      },
    },
  };
}

function passwordSection(deps: AccountPageDependencies): AccountSection {
  return {
    view: async () => ({}),
    actions: {
      password: async ({ user, session, audit }, body) => {
        const attempt = await deps.loginThrottle.attempt(user.email, audit.clientIp ?? '');
        if (!attempt.allowed) throw new AppError(429, 'too_many_attempts', tooManyAttempts(attempt.retryAfterSeconds));
        if (!(await judged(attempt, () => deps.users.authenticate(user.email, text(body.current))))) {
          await attempt.failed();
          throw new AppError(400, 'invalid_password', 'Your current password is not right.');
        }
        await attempt.succeeded();
        // Ends every other session and refresh token; this browser stays signed in.
        await deps.users.updateUser(user.id, { password: text(body.password) }, audit, { keepSessionUid: session.uid });
        return 'Your password was changed, and you were signed out everywhere else.';
      },
    },
  };
}

function sessionsSection(deps: AccountPageDependencies): AccountSection {
  return {
    view: async ({ user, session }) => ({
      sessions: (await deps.sessions.listSessions(user.id)).map((entry) => ({
        uid: entry.uid,
        current: entry.uid === session.uid,
        device: describeDevice(entry.userAgent),
        ip: entry.ip,
        lastSeen: (entry.lastSeen ?? entry.signedInAt)?.toISOString().replace('T', ' ').slice(0, 16).concat(' UTC') ?? 'unknown',
      })),
    }),
    actions: {
      'sessions/end': async ({ user, audit }, body) => {
        const ended = await deps.sessions.endSession(user.id, text(body.session), audit);
        if (!ended) throw new AppError(404, 'not_found', 'That session has already ended.');
        return 'That session was signed out.';
      },
      'sessions/end-others': async ({ user, session, audit }) => {
        const count = await deps.sessions.endOtherSessions(user.id, session.uid, audit);
        return count === 1 ? 'One other session was signed out.' : `${count} other sessions were signed out.`;
      },
    },
  };
}

/** "Firefox on Linux" from a User-Agent, roughly; the raw string when unknown. */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const browser = [
    ['Edg/', 'Edge'],
    ['Firefox/', 'Firefox'],
    ['Chrome/', 'Chrome'],
    ['Safari/', 'Safari'],
  ].find(([mark]) => userAgent.includes(mark as string))?.[1];
  const system = [
    ['Android', 'Android'],
    ['iPhone', 'iPhone'],
    ['iPad', 'iPad'],
    ['Windows', 'Windows'],
    ['Mac OS', 'macOS'],
    ['Linux', 'Linux'],
  ].find(([mark]) => userAgent.includes(mark as string))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? userAgent.slice(0, 60);
}

/** "password must be …" → "Your password must be …." */
function sentence(description: string): string {
  const result = description.replace(/^password /, 'Your new password ');
  return /[.!?]$/.test(result) ? result : `${result}.`;
}
