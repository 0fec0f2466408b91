import type { KeyObject } from 'node:crypto';
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import { judged, tooManyAttempts, type LoginThrottle } from '../accounts/login-throttle.js';
import type { UserService } from '../accounts/users.js';
import { emailFingerprint, type AuditLog } from '../audit/events.js';
import { createRepeatedEventLog } from '../audit/repeated-events.js';
import type { RequestCounters } from '../http/request-counters.js';
import type { ResourceService } from '../clients/resources.js';
import { interactionPageErrors } from './page-errors.js';
import { AppError } from '../http/errors.js';
import { isStorableText } from '../http/storable-text.js';
import type { PageName, PageRenderer } from '../http/pages.js';
import type { SecondFactorHooks } from '../mfa/mfa-interaction.js';
import { authenticationMethods } from '../mfa/mfa-policy.js';
import { currentRequest, type Logger } from '../log.js';
import { recordLogin } from '../metrics/metrics.js';
import {
  completeConsent,
  completeLogin,
  denyInteraction,
  loadInteraction,
  type PendingInteraction,
  type ProviderRef,
} from '../oidc/interaction-steps.js';
import { resourceScopePolicy, type ResourceScopePolicy } from '../oidc/implied-consent.js';
import { csrfToken, csrfTokenValid, loginFormToken, loginFormTokenNumber } from './csrf.js';
import { describeApiScopes, SCOPE_DESCRIPTIONS } from './scope-descriptions.js';

export interface InteractionDependencies {
  readonly provider: ProviderRef;
  readonly users: UserService;
  readonly resources: ResourceService;
  readonly pages: PageRenderer;
  readonly csrfKey: KeyObject;
  /** The admin API's resource indicator: its scopes go to users with the `admin` role only. */
  readonly adminResource: string;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly loginThrottle: LoginThrottle;
  /** Seconds an interaction lives (its login form tokens live as long). */
  readonly interactionTtl: number;
  /** The second-factor step after the password (src/mfa/); without it, a password alone signs in. */
  readonly secondFactor?: SecondFactorHooks;
  /** Whether the login page links to self-registration (GATEHOUSE_REGISTRATION=open). */
  readonly registrationOpen?: boolean;
  /** Throttled sign-ins are recorded once per client IP a minute, with a count. */
  readonly requestCounters: RequestCounters;
  /** Gatehouse's own clients (the account page): consent is not asked. */
  readonly firstPartyClients?: readonly string[];
}

/** oidc-provider's "interaction cookie missing or expired", said plainly. */

// Unknown email, wrong password and disabled account read the same.
const LOGIN_FAILED = 'Incorrect email or password.';

/** Login, consent and cancel pages for oidc-provider's interactions. */
export function interactionRoutes(deps: InteractionDependencies): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const throttledEvents = createRepeatedEventLog(deps.requestCounters, deps.audit);
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });

  router.use(interactionPageErrors(deps.pages, deps.log));

  router.get('/', async (ctx) => {
    const interaction = await load(ctx, deps);
    if (await deps.secondFactor?.page(ctx, interaction)) return;
    if (interaction.prompt === 'login') return renderLogin(ctx, deps, interaction);
    // A first-party app's consent is implied (and so is that of Gatehouse's own
    // account page), and a device's scopes were approved on the code
    // confirmation page: granted and recorded without another page. The grant
    // loader grants these before a consent interaction would start
    // (src/oidc/implied-consent.ts); this answers one that started anyway (say,
    // one saved by an older version, or a client's first_party just turned on).
    const ownClient = deps.firstPartyClients?.includes(interaction.clientId) ?? false;
    if (interaction.prompt === 'consent' && (interaction.firstParty || interaction.deviceFlow || ownClient)) {
      return redirect(ctx, await completeConsent(deps.provider, ctx.req, ctx.res, await consentPolicy(deps, interaction)));
    }
    if (interaction.prompt === 'consent') return renderConsent(ctx, deps, interaction);
    throw new AppError(400, 'invalid_request', `unsupported prompt ${interaction.prompt}`);
  });

  router.post('/login', form, async (ctx) => {
    const interaction = await loadForPost(ctx, deps, 'login', { loginForm: true });
    const body = ctx.request.body as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const origin = { requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip };
    const request = currentRequest();
    if (request) request.clientId = interaction.clientId;
    const attempt = email && password ? await deps.loginThrottle.attempt(email, ctx.ip) : undefined;
    if (attempt && !attempt.allowed) {
      await throttledEvents.record(
        { actor: 'anonymous', ...origin },
        {
          type: 'login.throttled',
          details: {
            email: emailFingerprint(email),
            limit: attempt.reason,
            retry_after: attempt.retryAfterSeconds,
            client_id: interaction.clientId,
          },
        },
      );
      recordLogin('throttled');
      ctx.status = 429;
      ctx.set('Retry-After', String(attempt.retryAfterSeconds));
      return renderLogin(ctx, deps, interaction, {
        email: isStorableText(email) ? email : '',
        error: tooManyAttempts(attempt.retryAfterSeconds),
      });
    }
    const user = attempt ? await judged(attempt, () => deps.users.authenticate(email, password)) : null;
    recordLogin(user ? 'success' : 'failure');
    if (!user) {
      const outcome = await attempt?.failed();
      await deps.audit.record(
        { actor: 'anonymous', ...origin },
        { type: 'login.failed', details: { email: emailFingerprint(email), client_id: interaction.clientId } },
      );
      if (outcome?.delayed) {
        const account = isStorableText(email) ? await deps.users.findUserByEmail(email) : null;
        await deps.audit.record(
          { actor: 'anonymous', ...origin },
          { type: 'login.account_delayed', subject: account?.id, details: { email: emailFingerprint(email), failures: outcome.failures } },
        );
      }
      ctx.status = 401;
      // The email is shown again, unless it carries a NUL or lone surrogate (it matched no one anyway).
      return renderLogin(ctx, deps, interaction, { email: isStorableText(email) ? email : '', error: LOGIN_FAILED });
    }
    await attempt?.succeeded();
    await deps.audit.record(
      { actor: `user:${user.id}`, ...origin },
      { type: 'login.succeeded', subject: user.id, details: { client_id: interaction.clientId } },
    );
    if (deps.secondFactor) return redirect(ctx, await deps.secondFactor.afterPassword(ctx, interaction, user));
    return redirect(ctx, await completeLogin(deps.provider, ctx.req, ctx.res, user.id, authenticationMethods(['pwd'])));
  });

  for (const [path, action] of Object.entries(deps.secondFactor?.actions ?? {})) {
    router.post(`/${path}`, form, async (ctx) => action(ctx, await loadForPost(ctx, deps, 'login')));
  }

  router.post('/confirm', form, async (ctx) => {
    const interaction = await loadForPost(ctx, deps, 'consent');
    return redirect(ctx, await completeConsent(deps.provider, ctx.req, ctx.res, await consentPolicy(deps, interaction)));
  });

  router.post('/abort', form, async (ctx) => {
    await loadForPost(ctx, deps);
    return redirect(ctx, await denyInteraction(deps.provider, ctx.req, ctx.res));
  });

  return router;
}

/** What consent may grant: the admin API's scopes only to users with the `admin` role (the rule implied consent applies too). */
function consentPolicy(deps: InteractionDependencies, interaction: PendingInteraction): Promise<ResourceScopePolicy> {
  return resourceScopePolicy(deps.adminResource, interaction.missingResourceScopes, async () =>
    interaction.accountId ? (await deps.users.findUserById(interaction.accountId))?.roles : undefined,
  );
}

async function load(ctx: Context, deps: InteractionDependencies): Promise<PendingInteraction> {
  const interaction = await loadInteraction(deps.provider, ctx.req, ctx.res);
  if (interaction.uid !== ctx.params.uid) {
    throw new AppError(400, 'invalid_request', 'this sign-in request does not match the one in progress');
  }
  return interaction;
}

async function loadForPost(
  ctx: Context,
  deps: InteractionDependencies,
  prompt?: string,
  options: { loginForm?: boolean } = {},
): Promise<PendingInteraction> {
  const interaction = await load(ctx, deps);
  const body = ctx.request.body as Record<string, unknown> | undefined;
  const formExpired = () => new AppError(403, 'invalid_request', 'the form expired or did not come from this site; please try again');
  if (options.loginForm) {
    // Each login form token is good for one submission (a failed one renders the next).
    const attempt = loginFormTokenNumber(deps.csrfKey, interaction.uid, body?.csrf);
    if (attempt === undefined || !(await deps.loginThrottle.useFormToken(interaction.uid, attempt, deps.interactionTtl)))
      throw formExpired();
  } else if (
    !csrfTokenValid(deps.csrfKey, interaction.uid, body?.csrf) &&
    loginFormTokenNumber(deps.csrfKey, interaction.uid, body?.csrf) === undefined
  ) {
    // The login page's Cancel form carries the login form's token.
    throw formExpired();
  }
  if (prompt && interaction.prompt !== prompt) {
    throw new AppError(400, 'invalid_request', `this sign-in request is not waiting for ${prompt}`);
  }
  return interaction;
}

async function renderLogin(
  ctx: Context,
  deps: InteractionDependencies,
  interaction: PendingInteraction,
  extra: { email?: string; error?: string } = {},
): Promise<void> {
  renderPage(ctx, deps, 'login', {
    title: 'Sign in',
    uid: interaction.uid,
    client: interaction.clientName,
    csrf: csrfToken(deps.csrfKey, interaction.uid),
    loginToken: loginFormToken(deps.csrfKey, interaction.uid, await deps.loginThrottle.formAttempts(interaction.uid)),
    registration: deps.registrationOpen ?? false,
    ...(await deps.secondFactor?.loginView(interaction)),
    ...extra,
  });
}

async function renderConsent(ctx: Context, deps: InteractionDependencies, interaction: PendingInteraction): Promise<void> {
  const user = interaction.accountId ? await deps.users.findUserById(interaction.accountId) : null;
  const apis = await describeApiScopes(deps.resources, interaction.missingResourceScopes);
  renderPage(ctx, deps, 'consent', {
    title: 'Allow access',
    uid: interaction.uid,
    client: interaction.clientName,
    email: user?.email ?? '',
    scopes: interaction.missingScopes.map((scope) => SCOPE_DESCRIPTIONS[scope] ?? scope),
    apis,
    csrf: csrfToken(deps.csrfKey, interaction.uid),
  });
}

/** A page of an interaction in progress: never cached (it carries a CSRF token). */
function renderPage(ctx: Context, deps: InteractionDependencies, page: PageName, view: { title: string } & Record<string, unknown>): void {
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = deps.pages.render(page, view);
}

function redirect(ctx: Context, location: string): void {
  ctx.status = 303;
  ctx.redirect(location);
}
