import type { Middleware, ParameterizedContext } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../../config/config.js';
import type { PrismaClient } from '../../db/prisma.js';
import type { Logger } from '../../log.js';
import {
  addDevicePollingInterval,
  codeEntryFailureOf,
  deviceFormXsrf,
  engineContext,
  isDeviceFormRefused,
  isDeviceFormWithoutSession,
  routesTo,
  pendingDeviceCodePolled,
  sendProtocolError,
  takePrefilledUserCode,
  untouchUnsavedSession,
  userCodeOf,
} from '../provider-internals.js';
import type { CodeEntryProblem, DevicePages, RenderedPage } from './pages.js';
import { createDevicePollPacing, type DevicePollPacing } from './poll-pacing.js';
import {
  createUserCodeAttemptLimiter,
  type AttemptReservation,
  type CodeEntrant,
  type UserCodeAttemptLimiter,
} from './user-code-attempts.js';

// oidc-provider's default routes for the device flow (config `routes`):
// device_authorization is /device/auth, code_verification (the verification_uri) is /device.
const CODE_VERIFICATION_PATH = '/device';

export interface DeviceFlowStores {
  readonly polls: DevicePollPacing;
  readonly userCodeAttempts: UserCodeAttemptLimiter;
}

export function createDeviceFlowStores(prisma: PrismaClient, settings: Config['deviceFlow']): DeviceFlowStores {
  return {
    polls: createDevicePollPacing(prisma, settings.pollInterval),
    userCodeAttempts: createUserCodeAttemptLimiter(prisma, { attempts: settings.userCodeAttempts, windowSeconds: settings.userCodeWindow }),
  };
}

export interface DeviceFlowDependencies {
  readonly config: Config;
  readonly devicePages: DevicePages;
  readonly deviceFlowStores: DeviceFlowStores;
  readonly log: Logger;
}

type DeviceFlowFeature = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/**
 * RFC 8628 device authorization grant: oidc-provider runs the protocol; this
 * supplies Gatehouse's verification pages and records wrong user codes.
 */
export function deviceFlowFeature(deps: DeviceFlowDependencies): DeviceFlowFeature {
  const { devicePages } = deps;
  return {
    enabled: true,
    // RFC 8628 §6.1: 8 characters from 20 consonants (no vowels, no look-alikes),
    // shown as WDJB-MJHT. oidc-provider normalizes what the user types
    // (upper-cases, drops anything that is not a letter or digit).
    charset: 'base-20',
    mask: '****-****',
    userCodeInputSource: (ctx, _form, out, error) => renderCodeEntry(ctx, deps, out, error),
    userCodeConfirmSource: async (ctx, _form, client, _deviceInfo, userCode) => {
      const params = (ctx.oidc.entities.DeviceCode?.params ?? {}) as { scope?: string; resource?: string | string[] };
      send(
        ctx,
        await devicePages.confirm({
          action: ctx.oidc.urlFor('code_verification'),
          xsrf: deviceFormXsrf(ctx) ?? '',
          userCode,
          clientName: client.clientName ?? client.clientId,
          scope: params.scope,
          resource: params.resource,
        }),
      );
    },
    successSource: (ctx) => {
      send(ctx, devicePages.approved(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? 'The device'));
    },
  };
}

/**
 * Steps around oidc-provider's own device endpoints, for what it leaves to us:
 * the wrong-code limit before a code is looked up, and RFC answers it does not
 * give (interval, unauthorized_client, slow_down). Install with `useAroundEngine`.
 */
export function deviceFlowMiddleware(provider: Provider, deps: DeviceFlowDependencies): Middleware {
  // unauthorized_client for clients without the device grant: provider-internals.ts, for every grant.
  const addInterval = addPollingInterval(deps.config.deviceFlow.pollInterval);
  const slowDown = answerSlowDown(deps.deviceFlowStores.polls);
  // After the engine, on every route: the device authorization answer and polls of the token endpoint.
  const afterEngine = (ctx: ParameterizedContext): Promise<void> | undefined => {
    const oidcCtx = engineContext(ctx);
    if (!oidcCtx) return undefined;
    addInterval(oidcCtx);
    return slowDown(oidcCtx);
  };
  const aroundCodeEntry: Middleware = async (ctx, next) => {
    if (refuseFormWithoutSession(provider, deps.devicePages, ctx)) return;
    const attempt = await reserveCodeEntry(provider, deps, ctx);
    if (attempt && !attempt.allowed) return;
    prefillWithoutSubmitting(ctx);
    try {
      await next();
    } finally {
      // A code that was found (right, or expired/used) gives its attempt back; a wrong one keeps it.
      if (attempt?.allowed && !ctx.state.wrongUserCode) await attempt.release();
    }
    await afterEngine(ctx);
  };
  // Only the code entry page (RFC 8628 §3.3) needs steps before the engine:
  // other requests (every token request among them) pass with no frame of their own.
  return (ctx, next) => (routesTo(ctx.path, CODE_VERIFICATION_PATH) ? aroundCodeEntry(ctx, next) : next().then(() => afterEngine(ctx)));
}

/** RFC 8628 §3.2: tell the device how long to wait between polls (oidc-provider leaves `interval` out). */
function addPollingInterval(seconds: number): (ctx: KoaContextWithOIDC) => void {
  return (ctx) => addDevicePollingInterval(ctx, seconds);
}

/**
 * RFC 8628 §3.5: a device polling a pending code before `interval` has passed
 * gets `slow_down`, and its interval grows by 5 seconds. Only pending codes are
 * paced: approved, denied and expired ones get their answer at once.
 */
function answerSlowDown(polls: DevicePollPacing): (ctx: KoaContextWithOIDC) => Promise<void> | undefined {
  const pace = async (ctx: KoaContextWithOIDC, deviceCode: string) => {
    const { tooEarly } = await polls.recordPoll(deviceCode);
    if (tooEarly) sendProtocolError(ctx, new errors.SlowDown());
  };
  return (ctx) => {
    const deviceCode = pendingDeviceCodePolled(ctx);
    return deviceCode === undefined ? undefined : pace(ctx, deviceCode);
  };
}

/**
 * A code form posted without the session cookie its xsrf token belongs to
 * cannot be genuine (and oidc-provider would fail on it with a 500): the form
 * expired page, as for a bad xsrf token.
 */
function refuseFormWithoutSession(provider: Provider, devicePages: DevicePages, ctx: ParameterizedContext): boolean {
  if (!isDeviceFormWithoutSession(provider, ctx, CODE_VERIFICATION_PATH)) return false;
  send(ctx, devicePages.codeEntry({ action: CODE_VERIFICATION_PATH, problem: 'form_expired' }));
  return true;
}

/**
 * RFC 8628 §5.1: every code entry takes one of the IP's and the session's
 * attempts before the code is looked up (atomically, so parallel guesses are
 * counted too); once they are used up, entries are refused unseen.
 */
async function reserveCodeEntry(
  provider: Provider,
  deps: DeviceFlowDependencies,
  ctx: ParameterizedContext,
): Promise<AttemptReservation | undefined> {
  if (ctx.method !== 'POST' || !routesTo(ctx.path, CODE_VERIFICATION_PATH)) return undefined;
  // Only a real session gets past oidc-provider's xsrf check, so an invented
  // cookie value buys no fresh attempts; the IP limit holds regardless.
  const attempt = await deps.deviceFlowStores.userCodeAttempts.reserve(entrantOf(provider, ctx));
  if (attempt.allowed) return attempt;
  const page = deps.devicePages.codeEntry({ action: CODE_VERIFICATION_PATH, problem: 'locked_out' });
  ctx.set('Retry-After', String(deps.config.deviceFlow.userCodeWindow));
  send(ctx, page);
  return attempt;
}

/** The browser entering a code: its IP (behind a trusted proxy, the forwarded one) and its session cookie. */
function entrantOf(provider: Provider, ctx: ParameterizedContext): CodeEntrant {
  return { ip: ctx.ip, sessionId: ctx.cookies.get(provider.cookieName('session')) };
}

/**
 * The code entry page: first shown, prefilled from verification_uri_complete,
 * or shown again after a failure (oidc-provider calls this for every error on
 * its device pages).
 */
async function renderCodeEntry(
  ctx: KoaContextWithOIDC,
  deps: DeviceFlowDependencies,
  out: { error: string; error_description?: string } | undefined,
  error: Error | undefined,
): Promise<void> {
  const { devicePages } = deps;
  const failure = codeEntryFailureOf(error);
  if (failure === 'aborted') return send(ctx, devicePages.denied(await clientNameOf(ctx)));
  const unsaved = error !== undefined && untouchUnsavedSession(ctx);
  // The attempt reserved for this entry stays counted (see reserveCodeEntry).
  if (failure === 'not_found') ctx.state.wrongUserCode = true;
  const action = ctx.oidc.urlFor('code_verification');
  const xsrf = unsaved ? undefined : deviceFormXsrf(ctx);
  if (!error) return send(ctx, devicePages.codeEntry({ action, xsrf, userCode: prefilledUserCode(ctx) }));

  const problem = failure ?? problemOf(out);
  if (problem === 'server_error') deps.log.error('device verification failed', { err: error });
  const page = devicePages.codeEntry({
    action,
    xsrf,
    userCode: userCodeOf(error),
    problem,
    description: problem ? undefined : out?.error_description,
  });
  send(ctx, problem ? page : { ...page, status: ctx.status >= 400 && ctx.status < 500 ? ctx.status : 400 });
}

function problemOf(out: { error: string; error_description?: string } | undefined): CodeEntryProblem | undefined {
  if (!out || out.error === 'server_error') return 'server_error';
  if (isDeviceFormRefused(out)) return 'form_expired';
  return undefined;
}

/** verification_uri_complete's code, moved aside by `prefillWithoutSubmitting`. */
function prefilledUserCode(ctx: KoaContextWithOIDC): string | undefined {
  const code = (ctx.state as { prefilledUserCode?: unknown }).prefilledUserCode;
  return typeof code === 'string' ? code : undefined;
}

/**
 * RFC 8628 §3.3.1 / §5.4: verification_uri_complete prefills the code, but the
 * user still submits it and then confirms (see takePrefilledUserCode).
 */
function prefillWithoutSubmitting(ctx: ParameterizedContext): void {
  const userCode = takePrefilledUserCode(ctx, CODE_VERIFICATION_PATH);
  if (userCode !== undefined) (ctx.state as { prefilledUserCode?: string }).prefilledUserCode = userCode;
}

async function clientNameOf(ctx: KoaContextWithOIDC): Promise<string | undefined> {
  const client =
    ctx.oidc.client ??
    (ctx.oidc.entities.DeviceCode?.clientId ? await ctx.oidc.provider.Client.find(ctx.oidc.entities.DeviceCode.clientId) : undefined);
  return client ? (client.clientName ?? client.clientId) : undefined;
}

function send(ctx: KoaContextWithOIDC | ParameterizedContext, page: RenderedPage): void {
  ctx.status = page.status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = page.html;
}
