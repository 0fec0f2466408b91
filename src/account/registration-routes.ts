import type { KeyObject } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AccountRecovery } from '../accounts/account-recovery.js';
import type { User, UserService } from '../accounts/users.js';
import type { AuditLog } from '../audit/events.js';
import { describeError as describe } from '../http/error-renderer.js';
import { interactionPageErrors } from '../interactions/page-errors.js';
import { AppError } from '../http/errors.js';
import type { PageRenderer } from '../http/pages.js';
import { ipCounterKey, type RequestCounters } from '../http/request-counters.js';
import { csrfToken, csrfTokenValid } from '../interactions/csrf.js';
import type { Logger } from '../log.js';
import { completeLogin, loadInteraction, type PendingInteraction, type ProviderRef } from '../oidc/interaction-steps.js';

export interface RegistrationDependencies {
  readonly provider: ProviderRef;
  readonly users: UserService;
  readonly recovery: AccountRecovery;
  readonly counters: RequestCounters;
  readonly pages: PageRenderer;
  readonly csrfKey: KeyObject;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly passwordMinLength: number;
}

// New accounts per client IP per hour.
const REGISTRATIONS_PER_IP_PER_HOUR = 10;

const text = (value: unknown) => (typeof value === 'string' ? value : '');

/**
 * Self-registration (GATEHOUSE_REGISTRATION=open): email, name and password
 * (the policy applies) → the account, a verification email, and the sign-in
 * that was started continues signed in as it.
 */
export function registrationRoutes(deps: RegistrationDependencies): Router {
  const router = new Router({ prefix: '/interaction/:uid/register' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });

  router.use(interactionPageErrors(deps.pages, deps.log));

  router.get('/', async (ctx) => {
    render(ctx, deps, await loginInteraction(ctx, deps));
  });

  router.post('/', form, async (ctx) => {
    const interaction = await loginInteraction(ctx, deps);
    const body = ctx.request.body as Record<string, unknown>;
    if (!csrfTokenValid(deps.csrfKey, interaction.uid, body.csrf)) {
      throw new AppError(403, 'invalid_request', 'the form expired or did not come from this site; please try again');
    }
    const input = { email: text(body.email).trim(), name: text(body.name).trim() || null, password: text(body.password) };
    const byIp = await deps.counters.hit(ipCounterKey('register-ip', ctx.ip), 3600);
    if (byIp.count > REGISTRATIONS_PER_IP_PER_HOUR) {
      ctx.status = 429;
      ctx.set('Retry-After', String(byIp.retryAfterSeconds));
      return render(ctx, deps, interaction, {
        ...input,
        error: `Too many new accounts from this address, try again in ${Math.ceil(byIp.retryAfterSeconds / 60)} minutes.`,
      });
    }
    const origin = { actor: 'anonymous', requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip };
    let user: User;
    try {
      if (input.name && input.name.length > 200) throw new AppError(400, 'invalid_name', 'Your name must be at most 200 characters.');
      user = await deps.users.createUser(input, origin);
    } catch (error) {
      const failure = describe(error);
      if (failure.status !== 400 && failure.status !== 409) throw error;
      ctx.status = failure.status;
      return render(ctx, deps, interaction, { ...input, error: registrationProblem(failure.code, failure.description) });
    }
    // Beyond the address's hourly limit nothing is sent; the account page can send it later.
    if (deps.recovery.available) await deps.recovery.sendVerificationEmail(user, interaction.uid);
    await deps.audit.record(
      { ...origin, actor: `user:${user.id}` },
      { type: 'login.succeeded', subject: user.id, details: { client_id: interaction.clientId, registered: true } },
    );
    ctx.status = 303;
    ctx.redirect(await completeLogin(deps.provider, ctx.req, ctx.res, user.id));
  });

  return router;
}

async function loginInteraction(ctx: Context, deps: RegistrationDependencies): Promise<PendingInteraction> {
  const interaction = await loadInteraction(deps.provider, ctx.req, ctx.res);
  if (interaction.uid !== ctx.params.uid)
    throw new AppError(400, 'invalid_request', 'this sign-in request does not match the one in progress');
  if (interaction.prompt !== 'login') throw new AppError(400, 'invalid_request', 'this sign-in request is not waiting for a sign-in');
  return interaction;
}

function registrationProblem(code: string, description: string): string {
  if (code === 'email_taken') return 'An account with this email already exists. Sign in, or reset its password.';
  if (code === 'invalid_email') return 'Enter a valid email address.';
  const sentence = description.replace(/^password /, 'Your password ');
  return /[.!?]$/.test(sentence) ? sentence : `${sentence}.`;
}

function render(
  ctx: Context,
  deps: RegistrationDependencies,
  interaction: PendingInteraction,
  extra: { email?: string; name?: string | null; error?: string } = {},
): void {
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = deps.pages.render('register', {
    title: 'Create your account',
    uid: interaction.uid,
    client: interaction.clientName,
    csrf: csrfToken(deps.csrfKey, interaction.uid),
    minLength: deps.passwordMinLength,
    ...extra,
  });
}
