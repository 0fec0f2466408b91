import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { UserService } from '../accounts/users.js';
import { emailFingerprint, type AuditLog } from '../audit/events.js';
import type { ResourceService } from '../clients/resources.js';
import { describe } from '../http/error-middleware.js';
import type { PageName, PageRenderer } from '../http/pages.js';
import { currentRequest, type Logger } from '../log.js';
import { recordLogin } from '../metrics/metrics.js';
import {
  completeConsent,
  completeLogin,
  denyInteraction,
  isExpiredInteraction,
  loadInteraction,
  type PendingInteraction,
  type ProviderRef,
} from '../oidc/interaction-steps.js';
import { csrfToken, csrfTokenValid } from './csrf.js';
import { describeApiScopes, SCOPE_DESCRIPTIONS } from './scope-descriptions.js';

export interface InteractionDependencies {
  readonly provider: ProviderRef;
  readonly users: UserService;
  readonly resources: ResourceService;
  readonly pages: PageRenderer;
  readonly csrfKey: Buffer;
  /** The admin API's resource indicator: its scopes go to users with the `admin` role only. */
  readonly adminResource: string;
  readonly audit: AuditLog;
  readonly log: Logger;
}

// Unknown email, wrong password and disabled account read the same.
const LOGIN_FAILED = 'Incorrect email or password.';

/** Login, consent and cancel pages for oidc-provider's interactions. */
export function interactionRoutes(deps: InteractionDependencies): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = bodyParser({ enableTypes: ['form'], formLimit: '16kb', encoding: 'utf-8' });

  router.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      renderFailure(ctx, deps, error);
    }
  });

  router.get('/', async (ctx) => {
    const interaction = await load(ctx, deps);
    if (interaction.prompt === 'login') return renderLogin(ctx, deps, interaction);
    if (interaction.prompt === 'consent') return renderConsent(ctx, deps, interaction);
    throw Object.assign(new Error(`unsupported prompt ${interaction.prompt}`), { status: 400 });
  });

  router.post('/login', form, async (ctx) => {
    const interaction = await loadForPost(ctx, deps, 'login');
    const body = ctx.request.body as Record<string, unknown>;
    const email = typeof body.email === 'string' ? body.email : '';
    const password = typeof body.password === 'string' ? body.password : '';
    const user = email && password ? await deps.users.authenticate(email, password) : null;
    const origin = { requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip };
    const request = currentRequest();
    if (request) request.clientId = interaction.clientId;
    recordLogin(user ? 'success' : 'failure');
    if (!user) {
      await deps.audit.record(
        { actor: 'anonymous', ...origin },
        { type: 'login.failed', details: { email: emailFingerprint(email), client_id: interaction.clientId } },
      );
      ctx.status = 401;
      return renderLogin(ctx, deps, interaction, { email, error: LOGIN_FAILED });
    }
    await deps.audit.record({ actor: `user:${user.id}`, ...origin }, { type: 'login.succeeded', subject: user.id, details: { client_id: interaction.clientId } });
    return redirect(ctx, await completeLogin(deps.provider, ctx.req, ctx.res, user.id));
  });

  router.post('/confirm', form, async (ctx) => {
    const interaction = await loadForPost(ctx, deps, 'consent');
    const user = interaction.accountId ? await deps.users.findUserById(interaction.accountId) : null;
    const isAdmin = user?.roles.includes('admin') ?? false;
    const mayGrant = (indicator: string) => indicator !== deps.adminResource || isAdmin;
    return redirect(ctx, await completeConsent(deps.provider, ctx.req, ctx.res, mayGrant));
  });

  router.post('/abort', form, async (ctx) => {
    await loadForPost(ctx, deps);
    return redirect(ctx, await denyInteraction(deps.provider, ctx.req, ctx.res));
  });

  return router;
}

async function load(ctx: Context, deps: InteractionDependencies): Promise<PendingInteraction> {
  const interaction = await loadInteraction(deps.provider, ctx.req, ctx.res);
  if (interaction.uid !== ctx.params.uid) {
    throw Object.assign(new Error('this sign-in request does not match the one in progress'), { status: 400 });
  }
  return interaction;
}

async function loadForPost(ctx: Context, deps: InteractionDependencies, prompt?: string): Promise<PendingInteraction> {
  const interaction = await load(ctx, deps);
  const body = ctx.request.body as Record<string, unknown> | undefined;
  if (!csrfTokenValid(deps.csrfKey, interaction.uid, body?.csrf)) {
    throw Object.assign(new Error('the form expired or did not come from this site; please try again'), { status: 403 });
  }
  if (prompt && interaction.prompt !== prompt) {
    throw Object.assign(new Error(`this sign-in request is not waiting for ${prompt}`), { status: 400 });
  }
  return interaction;
}

function renderLogin(
  ctx: Context,
  deps: InteractionDependencies,
  interaction: PendingInteraction,
  extra: { email?: string; error?: string } = {},
): void {
  renderPage(ctx, deps, 'login', {
    title: 'Sign in',
    uid: interaction.uid,
    client: interaction.clientName,
    csrf: csrfToken(deps.csrfKey, interaction.uid),
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

function renderFailure(ctx: Context, deps: InteractionDependencies, error: unknown): void {
  const expired = isExpiredInteraction(error);
  const failure = expired
    ? { status: 400, code: 'invalid_request', description: 'This sign-in request has expired or was already completed.' }
    : describe(error);
  if (failure.status === 500) deps.log.error(`interaction ${ctx.method} ${ctx.path} failed`, { err: error });
  ctx.status = failure.status;
  ctx.type = 'html';
  ctx.body = deps.pages.render('error', {
    title: 'Sign-in error',
    error: failure.code,
    description: failure.status === 500 ? 'Something went wrong on our side.' : failure.description,
  });
}
