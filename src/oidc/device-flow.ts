import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { ResourceService } from '../clients/resources.js';
import type { Config } from '../config/config.js';
import type { PrismaClient } from '../db/prisma.js';
import type { PageRenderer } from '../http/pages.js';
import { createDevicePages, type CodeEntryProblem, type DevicePages, type RenderedPage } from '../interactions/device-pages.js';
import { createUserCodeAttemptLimiter, type AttemptReservation, type CodeEntrant, type UserCodeAttemptLimiter } from '../interactions/user-code-attempts.js';
import type { Logger } from '../log.js';
import { createDevicePollPacing, type DevicePollPacing } from './device-poll-pacing.js';
import { untouchUnsavedSession } from './unsaved-session.js';

/** RFC 8628 §3.4: the device code grant type. */
import { DEVICE_CODE_GRANT } from '../clients/client-metadata.js';

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
  readonly pages: PageRenderer;
  readonly resources: ResourceService;
  readonly deviceFlowStores: DeviceFlowStores;
  readonly log: Logger;
}

type DeviceFlowFeature = NonNullable<NonNullable<Configuration['features']>['deviceFlow']>;

/**
 * RFC 8628 device authorization grant: oidc-provider runs the protocol; this
 * supplies Gatehouse's verification pages and records wrong user codes.
 */
export function deviceFlowFeature(deps: DeviceFlowDependencies): DeviceFlowFeature {
  const devicePages = createDevicePages(deps.pages, deps.resources);
  return {
    enabled: true,
    // RFC 8628 §6.1: 8 characters from 20 consonants (no vowels, no look-alikes),
    // shown as WDJB-MJHT. oidc-provider normalizes what the user types
    // (upper-cases, drops anything that is not a letter or digit).
    charset: 'base-20',
    mask: '****-****',
    userCodeInputSource: (ctx, _form, out, error) => renderCodeEntry(ctx, deps, devicePages, out, error),
    userCodeConfirmSource: async (ctx, _form, client, _deviceInfo, userCode) => {
      const params = (ctx.oidc.entities.DeviceCode?.params ?? {}) as { scope?: string; resource?: string | string[] };
      send(ctx, await devicePages.confirm({
        action: ctx.oidc.urlFor('code_verification'),
        xsrf: xsrfOf(ctx) ?? '',
        userCode,
        clientName: client.clientName ?? client.clientId,
        scope: params.scope,
        resource: params.resource,
      }));
    },
    successSource: (ctx) => {
      send(ctx, devicePages.approved(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? 'The device'));
    },
  };
}

/**
 * Steps around oidc-provider's own device endpoints, for what it leaves to us:
 * the wrong-code limit before a code is looked up, and RFC answers it does not
 * give (interval, unauthorized_client, slow_down). Install with `provider.use`.
 */
export function deviceFlowMiddleware(provider: Provider, deps: DeviceFlowDependencies): Middleware {
  // unauthorized_client for clients without the device grant: token-errors.ts, for every grant.
  const steps = [addPollingInterval(deps.config.deviceFlow.pollInterval), answerSlowDown(deps.deviceFlowStores.polls)];
  const devicePages = createDevicePages(deps.pages, deps.resources);
  return async (ctx, next) => {
    if (refuseFormWithoutSession(provider, devicePages, ctx)) return;
    const attempt = await reserveCodeEntry(provider, deps, devicePages, ctx);
    if (attempt && !attempt.allowed) return;
    prefillWithoutSubmitting(ctx);
    try {
      await next();
    } finally {
      // A code that was found (right, or expired/used) gives its attempt back; a wrong one keeps it.
      if (attempt?.allowed && !ctx.state.wrongUserCode) await attempt.release();
    }
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    if (!oidcCtx.oidc) return;
    for (const step of steps) await step(oidcCtx);
  };
}

type ResponseStep = (ctx: KoaContextWithOIDC) => void | Promise<void>;

interface ErrorBody {
  error?: unknown;
}

/** RFC 8628 §3.2: tell the device how long to wait between polls (oidc-provider leaves `interval` out). */
function addPollingInterval(seconds: number): ResponseStep {
  return (ctx) => {
    const body = ctx.body as Record<string, unknown> | undefined;
    if (ctx.oidc.route === 'device_authorization' && ctx.status === 200 && typeof body?.device_code === 'string') {
      body.interval = seconds;
    }
  };
}

/**
 * RFC 8628 §3.5: a device polling a pending code before `interval` has passed
 * gets `slow_down`, and its interval grows by 5 seconds. Only pending codes are
 * paced: approved, denied and expired ones get their answer at once.
 */
function answerSlowDown(polls: DevicePollPacing): ResponseStep {
  return async (ctx) => {
    if (ctx.oidc.route !== 'token' || ctx.oidc.params?.grant_type !== DEVICE_CODE_GRANT) return;
    if ((ctx.body as ErrorBody | undefined)?.error !== 'authorization_pending') return;
    const deviceCode = ctx.oidc.params.device_code;
    if (typeof deviceCode !== 'string') return;
    const { tooEarly } = await polls.recordPoll(deviceCode);
    if (tooEarly) sendError(ctx, new errors.SlowDown());
  };
}

function sendError(ctx: KoaContextWithOIDC, error: errors.OIDCProviderError): void {
  ctx.status = error.status;
  ctx.body = { error: error.error, error_description: error.error_description };
}

/**
 * A code form posted without the session cookie its xsrf token belongs to
 * cannot be genuine (and oidc-provider would fail on it with a 500): the form
 * expired page, as for a bad xsrf token.
 */
function refuseFormWithoutSession(provider: Provider, devicePages: DevicePages, ctx: Parameters<Middleware>[0]): boolean {
  if (ctx.method !== 'POST' || ctx.path !== CODE_VERIFICATION_PATH || ctx.cookies.get(provider.cookieName('session'))) return false;
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
  devicePages: DevicePages,
  ctx: Parameters<Middleware>[0],
): Promise<AttemptReservation | undefined> {
  if (ctx.method !== 'POST' || ctx.path !== CODE_VERIFICATION_PATH) return undefined;
  // Only a real session gets past oidc-provider's xsrf check, so an invented
  // cookie value buys no fresh attempts; the IP limit holds regardless.
  const attempt = await deps.deviceFlowStores.userCodeAttempts.reserve(entrantOf(provider, ctx));
  if (attempt.allowed) return attempt;
  const page = devicePages.codeEntry({ action: CODE_VERIFICATION_PATH, problem: 'locked_out' });
  ctx.set('Retry-After', String(deps.config.deviceFlow.userCodeWindow));
  send(ctx, page);
  return attempt;
}

/** The browser entering a code: its IP (behind a trusted proxy, the forwarded one) and its session cookie. */
function entrantOf(provider: Provider, ctx: Parameters<Middleware>[0] | KoaContextWithOIDC): CodeEntrant {
  return { ip: ctx.ip, sessionId: ctx.cookies.get(provider.cookieName('session')) };
}

const PROBLEM_BY_ERROR: Record<string, CodeEntryProblem> = {
  NoCodeError: 'missing',
  NotFoundError: 'not_found',
  ExpiredError: 'expired',
  AlreadyUsedError: 'already_used',
};

/**
 * The code entry page: first shown, prefilled from verification_uri_complete,
 * or shown again after a failure (oidc-provider calls this for every error on
 * its device pages).
 */
async function renderCodeEntry(
  ctx: KoaContextWithOIDC,
  deps: DeviceFlowDependencies,
  devicePages: DevicePages,
  out: { error: string; error_description?: string } | undefined,
  error: Error | undefined,
): Promise<void> {
  if (error?.name === 'AbortedError') return send(ctx, devicePages.denied(await clientNameOf(ctx)));
  const unsaved = error !== undefined && untouchUnsavedSession(ctx);
  // The attempt reserved for this entry stays counted (see reserveCodeEntry).
  if (error?.name === 'NotFoundError') ctx.state.wrongUserCode = true;
  const action = ctx.oidc.urlFor('code_verification');
  const xsrf = unsaved ? undefined : xsrfOf(ctx);
  if (!error) return send(ctx, devicePages.codeEntry({ action, xsrf, userCode: prefilledUserCode(ctx) }));

  const userCode = (error as { userCode?: unknown }).userCode;
  const shown = typeof userCode === 'string' ? userCode : undefined;
  const problem = PROBLEM_BY_ERROR[error.name] ?? problemOf(out);
  if (problem === 'server_error') deps.log.error(`device verification failed: ${error.stack ?? error.message}`);
  const page = devicePages.codeEntry({ action, xsrf, userCode: shown, problem, description: problem ? undefined : out?.error_description });
  send(ctx, problem ? page : { ...page, status: ctx.status >= 400 && ctx.status < 500 ? ctx.status : 400 });
}

function problemOf(out: { error: string; error_description?: string } | undefined): CodeEntryProblem | undefined {
  if (!out || out.error === 'server_error') return 'server_error';
  if (out.error === 'invalid_request' && /xsrf|form details/.test(out.error_description ?? '')) return 'form_expired';
  return undefined;
}

/** verification_uri_complete's code, moved aside by `prefillWithoutSubmitting`. */
function prefilledUserCode(ctx: KoaContextWithOIDC): string | undefined {
  const code = (ctx.state as { prefilledUserCode?: unknown }).prefilledUserCode;
  return typeof code === 'string' ? code : undefined;
}

/**
 * RFC 8628 §3.3.1 / §5.4: verification_uri_complete prefills the code, but the
 * user still submits it and then confirms. oidc-provider would submit it with
 * a script; instead the query parameter is moved aside, and the entry page
 * shows it prefilled.
 */
function prefillWithoutSubmitting(ctx: Parameters<Middleware>[0]): void {
  if (ctx.method === 'GET' && ctx.path === CODE_VERIFICATION_PATH && typeof ctx.query.user_code === 'string') {
    (ctx.state as { prefilledUserCode?: string }).prefilledUserCode = ctx.query.user_code;
    ctx.querystring = '';
  }
}

function xsrfOf(ctx: KoaContextWithOIDC): string | undefined {
  const secret = (ctx.oidc.session?.state as { secret?: unknown } | undefined)?.secret;
  return typeof secret === 'string' ? secret : undefined;
}

async function clientNameOf(ctx: KoaContextWithOIDC): Promise<string | undefined> {
  const client = ctx.oidc.client ?? (ctx.oidc.entities.DeviceCode?.clientId
    ? await ctx.oidc.provider.Client.find(ctx.oidc.entities.DeviceCode.clientId)
    : undefined);
  return client ? (client.clientName ?? client.clientId) : undefined;
}

function send(ctx: KoaContextWithOIDC | Parameters<Middleware>[0], page: RenderedPage): void {
  ctx.status = page.status;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = page.html;
}
