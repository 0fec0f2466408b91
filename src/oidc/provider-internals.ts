import type { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware, ParameterizedContext } from 'koa';
import Provider, { errors, type Client, type KoaContextWithOIDC } from 'oidc-provider';
import engineStore from 'oidc-provider/lib/helpers/als.js';
import EngineRouter from 'oidc-provider/lib/helpers/router.js';
import { DEVICE_CODE_GRANT } from '../clients/client-metadata.js';
import type { ProviderRef } from './provider.js';

/**
 * Every place Gatehouse relies on oidc-provider behaviour that is not part of
 * its documented configuration API: patched methods, the text of its error
 * messages, the names of its internal error classes, where it keeps state,
 * and the answers it writes that Gatehouse corrects afterwards. Nothing else
 * in Gatehouse depends on the engine's internals.
 *
 * Upgrading oidc-provider: read each seam below against the new version's
 * `lib/`, then run test/oidc/provider-internals.test.ts, which checks every
 * one against the real engine (and fails on a version it was not checked
 * against). package.json pins the exact version for this reason.
 *
 * The extra client metadata Gatehouse reads (`api_access`,
 * `default_resource`, `introspection_resources`) is typed once, in
 * oidc-provider.d.ts; that the engine hands it back on Client instances is
 * a seam tested there too.
 */
export const CHECKED_ENGINE_VERSION = '9.13.3';

/** A middleware installed on the provider: it runs around the engine's own routes. */
export type EngineMiddleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

/**
 * Seam: middleware installed with `provider.use` wraps the engine's routes,
 * and after `await next()` finds `ctx.oidc` (route, params, client, entities)
 * and the engine's JSON answer in `ctx.body`, which it may still change. The
 * types say a plain Koa context; the engine's context is a superset.
 */
export function useAroundEngine(provider: Provider, middleware: EngineMiddleware | Middleware): void {
  provider.use(middleware as Middleware);
}

/** A plain Koa context seen as the engine's, once the engine has set `ctx.oidc` (undefined before). */
export function engineContext(ctx: ParameterizedContext): KoaContextWithOIDC | undefined {
  const oidcCtx = ctx as KoaContextWithOIDC;
  return oidcCtx.oidc ? oidcCtx : undefined;
}

/**
 * Seam: client authentication with a secret (`client_secret_basic`/`_post`)
 * calls `Client.prototype.compareClientSecret(presented)` and nothing else;
 * `this.clientSecret` is the `client_secret` the adapter returned. Gatehouse's
 * adapter returns a keyed hash there, so the comparison is replaced with
 * `matches(presented, stored)`.
 */
export function compareClientSecretsWith(provider: Provider, matches: (presented: string, stored: string) => boolean): void {
  const prototype: Pick<Client, 'compareClientSecret'> = provider.Client.prototype;
  prototype.compareClientSecret = function compareHashedClientSecret(this: Client, presented: string): boolean {
    const stored = this.clientSecret;
    return typeof stored === 'string' && matches(presented, stored);
  };
}

/**
 * Seam, oidc-provider 9.13 (lib/models/client.js `Client.find`, and
 * `dynamicClients` in lib/provider.js): for a client the adapter returns,
 * every `find` hashes the payload (`JSON.stringify` and SHA-256) to look its
 * Client up in an LRU (100 to 200 clients), and builds (validates) the Client
 * again on a miss. Every request that names a client calls it: the hash costs
 * ~2 µs of CPU in a loop, and with more clients in use than the LRU keeps,
 * each request also rebuilds its Client (~35-40 µs; docs/performance.md,
 * "Client credentials (seventh round)").
 *
 * Gatehouse's client adapter hands out one payload object per cached client
 * (prisma-adapter.ts) and a new one when that client changes or its cache
 * entry expires. So the Client built for a payload is kept with that payload
 * (a WeakMap: it goes when the cache lets the payload go) and returned for
 * it without hashing. Any other id (unknown, or a payload seen for the first
 * time) goes through the engine's own `find`, and what it builds is kept only
 * if the adapter still hands out the same payload afterwards (a cache hit), so
 * a Client is never kept under a payload other than the one it was built from.
 * Gatehouse configures no static clients, which the engine would look at
 * first. Tested in test/oidc/provider-internals.test.ts.
 */
export function reuseClientPerPayload(provider: Provider): void {
  const clientModel = provider.Client as unknown as {
    readonly adapter: { find(id: string): Promise<object | null | undefined> };
    find(id: unknown): Promise<Client | undefined>;
  };
  const find = clientModel.find.bind(clientModel);
  const clientFor = new WeakMap<object, Client>();
  clientModel.find = async (id) => {
    const payload = typeof id === 'string' && id.length > 0 ? await clientModel.adapter.find(id) : undefined;
    const known = payload ? clientFor.get(payload) : undefined;
    if (known) return known;
    const client = await find(id);
    if (payload && client && (await clientModel.adapter.find(id as string)) === payload) clientFor.set(payload, client);
    return client;
  };
}

/**
 * Seam: the refresh token grant answers a consumed refresh token with
 * `InvalidGrant('refresh token already used')` (lib/actions/grants/refresh_token.js),
 * after revoking the grant; the Prisma adapter's `consume` says the same for
 * the loser of a race. The detail text is the only mark of that case.
 */
export function isRefreshTokenReuse(ctx: KoaContextWithOIDC, error: errors.OIDCProviderError): boolean {
  return ctx.oidc.params?.grant_type === 'refresh_token' && /already used/.test(error.error_detail ?? '');
}

/**
 * Seam: the engine answers `invalid_request` (not RFC 6749 §5.2's
 * `unauthorized_client`) when an authenticated client asks for a grant type it
 * is not registered for, at the token endpoint and (for the device grant) the
 * device authorization endpoint. The answer is corrected after the engine
 * wrote it: the client is authenticated, the grant type is one the server
 * supports, and the client may not use it.
 */
export function unauthorizedClientForDisallowedGrants(): EngineMiddleware {
  return async function correctDisallowedGrantError(ctx, next) {
    await next();
    const route = ctx.oidc?.route;
    if ((route !== 'token' && route !== 'device_authorization') || ctx.status !== 400) return;
    const client = ctx.oidc.client;
    // RFC 8628 §3.1: the device authorization endpoint is for clients with the device grant.
    const grantType = route === 'device_authorization' ? DEVICE_CODE_GRANT : ctx.oidc.params?.grant_type;
    if (errorCodeOf(ctx) !== 'invalid_request' || !client || typeof grantType !== 'string') return;
    if (client.grantTypeAllowed(grantType)) return;
    sendProtocolError(ctx, new errors.UnauthorizedClient(`this client is not registered for the ${grantType} grant`));
  };
}

/**
 * Seam: the introspection and revocation endpoints authenticate the caller,
 * then refuse any JWT with 400 `unsupported_token_type`
 * (lib/shared/reject_structured_tokens.js), since JWT access tokens are not
 * stored. `answer` replaces that answer for a token the engine refused so,
 * with the authenticated caller.
 */
export function onStructuredTokenRefused(
  answer: (ctx: KoaContextWithOIDC, caller: Client, token: string) => Promise<void>,
): EngineMiddleware {
  return async function answerForStructuredTokens(ctx, next) {
    await next();
    const route = ctx.oidc?.route;
    if (route !== 'introspection' && route !== 'revocation') return;
    const caller = ctx.oidc.client;
    const token = ctx.oidc.params?.token;
    if (!caller || typeof token !== 'string' || ctx.status !== 400 || errorCodeOf(ctx) !== 'unsupported_token_type') return;
    await answer(ctx, caller, token);
  };
}

/** Seam: the device authorization answer (RFC 8628 §3.2) leaves out `interval`; it is added to the engine's body. */
export function addDevicePollingInterval(ctx: KoaContextWithOIDC, seconds: number): void {
  const body = ctx.body as Record<string, unknown> | undefined;
  if (ctx.oidc.route === 'device_authorization' && ctx.status === 200 && typeof body?.device_code === 'string') {
    body.interval = seconds;
  }
}

/**
 * Seam: the engine answers a poll of a pending device code with
 * `authorization_pending` and never sends `slow_down` (RFC 8628 §3.5). The
 * device code polled, when that is the engine's answer.
 */
export function pendingDeviceCodePolled(ctx: KoaContextWithOIDC): string | undefined {
  if (ctx.oidc.route !== 'token' || ctx.oidc.params?.grant_type !== DEVICE_CODE_GRANT) return undefined;
  if (errorCodeOf(ctx) !== 'authorization_pending') return undefined;
  const deviceCode = ctx.oidc.params.device_code;
  return typeof deviceCode === 'string' ? deviceCode : undefined;
}

/** Replaces the engine's answer with a protocol error, in the engine's JSON shape. */
export function sendProtocolError(ctx: KoaContextWithOIDC, error: errors.OIDCProviderError): void {
  ctx.status = error.status;
  ctx.body = { error: error.error, error_description: error.error_description };
}

function errorCodeOf(ctx: KoaContextWithOIDC): unknown {
  return (ctx.body as { error?: unknown } | undefined)?.error;
}

/** What went wrong with a submitted user code, as the verification pages tell it. */
export type CodeEntryFailure = 'missing' | 'not_found' | 'expired' | 'already_used' | 'aborted';

/**
 * Seam: the code verification endpoint (lib/actions/code_verification.js)
 * signals the outcome of a submitted user code by throwing internal
 * "re-render" errors, known only by `name`: NoCodeError, NotFoundError,
 * ExpiredError, AlreadyUsedError, AbortedError (lib/helpers/re_render_errors.js).
 * It passes them to `userCodeInputSource` as its `err` argument.
 */
const FAILURE_BY_ERROR_NAME: Record<string, CodeEntryFailure> = {
  NoCodeError: 'missing',
  NotFoundError: 'not_found',
  ExpiredError: 'expired',
  AlreadyUsedError: 'already_used',
  AbortedError: 'aborted',
};

export function codeEntryFailureOf(error: Error | undefined): CodeEntryFailure | undefined {
  return error ? FAILURE_BY_ERROR_NAME[error.name] : undefined;
}

/** Seam: those re-render errors carry the code as the user typed it in `userCode` (not NoCodeError, AbortedError). */
export function userCodeOf(error: Error | undefined): string | undefined {
  const userCode = (error as { userCode?: unknown } | undefined)?.userCode;
  return typeof userCode === 'string' ? userCode : undefined;
}

/**
 * Seam: a code form whose xsrf token is wrong, or that has no form state in
 * its session, fails with `invalid_request` and the texts "xsrf token invalid"
 * or "could not find device form details" (lib/shared/xsrf.js).
 */
export function isDeviceFormRefused(out: { error: string; error_description?: string } | undefined): boolean {
  return out?.error === 'invalid_request' && /xsrf|form details/.test(out.error_description ?? '');
}

/**
 * Seam: the device pages' xsrf token is the secret the engine keeps in the
 * browser session's `state.secret` (set when the code form is rendered,
 * checked when it is posted), so Gatehouse's own form can carry it.
 */
export function deviceFormXsrf(ctx: KoaContextWithOIDC): string | undefined {
  const secret = ctx.oidc.session?.state?.secret;
  return typeof secret === 'string' ? secret : undefined;
}

/**
 * Seam: a code form posted with no session cookie makes the engine create a
 * fresh session, fail the xsrf check, then fail again when it re-renders the
 * form on that unsaved session: a 500. Such a form cannot be genuine, so it is
 * answered before the engine sees it.
 */
export function isDeviceFormWithoutSession(provider: Provider, ctx: ParameterizedContext, codeVerificationPath: string): boolean {
  return ctx.method === 'POST' && routesTo(ctx.path, codeVerificationPath) && !ctx.cookies.get(provider.cookieName('session'));
}

/**
 * Seam (lib/helpers/router.js `match`): the engine's router runs after
 * middleware added around it, so `ctx.oidc.route` is not known yet; it matches
 * a static path case-insensitively, with or without one trailing slash
 * (`/device/` and `/DEVICE` are the code verification page). A check on a
 * route's path, made before the engine routes, must match the same way.
 * test/e2e/device-flow-limits.test.ts covers it.
 */
export function routesTo(path: string, routePath: string): boolean {
  const withoutSlash = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return withoutSlash.toUpperCase() === routePath.toUpperCase();
}

/**
 * Seam (lib/shared/error_handler.js, lib/helpers/initialize_app.js
 * `ensureSessionSave`, lib/models/session.js `persist`): on its user-input
 * routes (code_verification, device_resume) the engine's error handler gives
 * the browser's session an xsrf secret before calling `userCodeInputSource`,
 * which marks the session touched; `ensureSessionSave` then calls `persist()`,
 * which throws ("persist can only be called on previously persisted
 * Sessions", a 500) for a session that was never saved: the browser sent no
 * session cookie, or an unknown or expired one. Marking such a session
 * untouched skips that persist. Returns whether the session is such an
 * unsaved one (its xsrf secret cannot be checked later, so the page shows no
 * form). Call it from `userCodeInputSource` when there is an error.
 */
export function untouchUnsavedSession(ctx: KoaContextWithOIDC): boolean {
  const session = ctx.oidc.session as ({ exp?: unknown; touched?: boolean } & object) | undefined;
  if (!session || typeof session.exp === 'number') return false;
  session.touched = false;
  return true;
}

/**
 * Seam: `GET /device?user_code=…` (verification_uri_complete) makes the
 * engine submit the code at once with an auto-posting form. RFC 8628 §3.3.1
 * and §5.4 want the user to submit and confirm it: the query parameter is
 * moved aside before the engine sees it, so the engine renders the entry page
 * (`userCodeInputSource`), which shows the code prefilled.
 */
export function takePrefilledUserCode(ctx: ParameterizedContext, codeVerificationPath: string): string | undefined {
  if (ctx.method !== 'GET' || !routesTo(ctx.path, codeVerificationPath) || typeof ctx.query.user_code !== 'string') return undefined;
  const userCode = ctx.query.user_code;
  ctx.querystring = '';
  return userCode;
}

/**
 * Seam: `features.resourceIndicators.defaultResource` may resolve to
 * `undefined` (no resource: the engine issues a token without an audience),
 * though the types say `string`.
 */
export const NO_DEFAULT_RESOURCE = undefined as unknown as string;

/**
 * Seam, oidc-provider 9.13 (lib/helpers/oidc_context.js `cookies`,
 * lib/models/session.js `get`): the engine's cookie jar is Secure when
 * `ctx.secure` is; the provider is a Koa app, so its `request.secure` getter
 * decides. test/e2e/secure-cookies.test.ts covers it.
 *
 * With an https issuer, oidc-provider's cookies (`_session`, `_interaction`,
 * `_interaction_resume`) are always `Secure`, even when TLS ends at a proxy
 * that is not trusted to say so (GATEHOUSE_TRUST_PROXY unset): the provider's
 * requests count as secure, so its cookie jar marks every cookie Secure.
 */
export function alwaysSecureCookies(provider: Provider): void {
  Object.defineProperty(provider.request, 'secure', { configurable: true, get: () => true });
}

export interface SignedInSession {
  readonly uid: string;
  readonly accountId: string;
}

/**
 * The browser's signed-in session at Gatehouse (its `_session` cookie), if any.
 * Seam, oidc-provider 9.13 (lib/models/session.js `get`): Session.get reads the
 * cookie through a context made with the provider's own `createContext`, and
 * returns an unsaved, account-less session when there is none.
 * test/account/account-routes.test.ts covers it.
 */
export async function signedInSession(ref: ProviderRef, req: IncomingMessage, res: ServerResponse): Promise<SignedInSession | undefined> {
  const provider = ref.current;
  const session = await provider.Session.get(provider.createContext(req, res));
  return session.accountId ? { uid: session.uid, accountId: session.accountId } : undefined;
}

/**
 * oidc-provider's refresh_token grant consumes (rotates) the refresh token
 * before it resolves the resource, so a request refused there would cost the
 * client its refresh token. Its `rotateRefreshToken` policy is called just
 * before that, with `ctx.oidc.entities.RefreshToken`, `Account` and the client
 * loaded: `check` runs there and may throw a protocol error, which then leaves
 * the refresh token as it was. The policy always rotates (RFC 9700 §4.14.2).
 * Tested end to end in test/e2e/rbac.test.ts ("a refused refresh loses nothing").
 */
export function checkBeforeRefreshRotation(
  check: (ctx: KoaContextWithOIDC) => Promise<void>,
): (ctx: KoaContextWithOIDC) => Promise<boolean> {
  return async (ctx) => {
    await check(ctx);
    return true;
  };
}

/** A client as the registered-secret-method check sees it. */
export interface SecretAuthenticatingClient {
  readonly clientAuthMethod: string;
}

/**
 * Seam (lib/models/client.js `compareClientSecret`, lib/shared/client_auth.js):
 * the secret comparison runs only for the secret-based methods, once the
 * client is known, inside the request, so `Provider.ctx` is that request's
 * context (`ctx.oidc.params` holds a `client_secret` sent in the body).
 * `check` runs before whatever comparison is installed now and may throw a
 * protocol error.
 */
export function checkBeforeClientSecretComparison(
  provider: Provider,
  check: (client: SecretAuthenticatingClient, ctx: KoaContextWithOIDC | undefined) => void,
): void {
  const prototype = provider.Client.prototype as unknown as {
    compareClientSecret(this: SecretAuthenticatingClient, actual: string): boolean | Promise<boolean>;
  };
  const compare = prototype.compareClientSecret;
  prototype.compareClientSecret = function checkedClientSecretComparison(actual) {
    check(this, Provider.ctx);
    return compare.call(this, actual);
  };
}

interface ClientWithLogout {
  readonly clientId: string;
  readonly backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
  /** oidc-provider's own delivery: signs the logout token and POSTs it, once. */
  sendLogoutTokenNow(sub: string, sid: string | undefined): Promise<void>;
}

/**
 * Seam (lib/actions/end_session.js, lib/models/client.js `backchannelLogout`):
 * ending a session calls `client.backchannelLogout(accountId, sid)` for each
 * of its clients with a `backchannel_logout_uri`, and waits for it; that
 * method signs the logout token and POSTs it. It is replaced with `queue`;
 * the original is kept as `sendLogoutTokenNow` (see `logoutTokenSender`).
 */
export function replaceBackchannelLogout(
  provider: Provider,
  queue: (logout: { clientId: string; accountId: string; sid: string | undefined }) => Promise<void>,
): void {
  const prototype = provider.Client.prototype as unknown as ClientWithLogout;
  prototype.sendLogoutTokenNow = prototype.backchannelLogout;
  prototype.backchannelLogout = function queueLogoutToken(this: ClientWithLogout, sub, sid) {
    return queue({ clientId: this.clientId, accountId: sub, sid });
  };
}

/**
 * The engine's own delivery of a logout token to the client (kept by
 * `replaceBackchannelLogout`), or undefined when the client is gone or has no
 * `backchannel_logout_uri`.
 */
export async function logoutTokenSender(
  provider: Provider,
  clientId: string,
): Promise<((accountId: string, sid: string | undefined) => Promise<void>) | undefined> {
  const client = (await provider.Client.find(clientId).catch(() => undefined)) as unknown as ClientWithLogout | undefined;
  if (!client?.backchannelLogoutUri) return undefined;
  return (accountId, sid) => client.sendLogoutTokenNow(accountId, sid);
}

/**
 * Seam (lib/actions/code_verification.js): an interaction the device flow
 * started (after the user confirmed a user code) carries the device code's
 * id as `deviceCode`; the types do not list it, and other interactions lack it.
 */
export function isDeviceFlowInteraction(details: object): boolean {
  return typeof (details as { deviceCode?: unknown }).deviceCode === 'string';
}

/**
 * Seam (lib/models/replay_detection.js, used by lib/shared/jwt_client_auth.js
 * and lib/helpers/validate_dpop.js): the ReplayDetection model holds both client
 * assertion `jti`s and DPoP proof `jti`s, and the adapter is called inside the
 * request, so `Provider.ctx` is that request's context. True when that
 * request carries a DPoP proof and no client assertion.
 */
export function isDpopProofOnlyRequest(): boolean {
  const ctx: KoaContextWithOIDC | undefined = Provider.ctx;
  return Boolean(ctx?.get('dpop')) && !(ctx?.oidc?.params as Record<string, unknown> | undefined)?.client_assertion;
}

/**
 * Seam (lib/helpers/als.js, set by ensureOIDC in lib/helpers/initialize_app.js):
 * while an engine route runs, and so in every adapter call it makes,
 * `Provider.ctx` is the request's Koa context: the same object that
 * middleware installed with `useAroundEngine` was handed. Gatehouse keeps
 * per-request state for the adapter on that context instead of opening an
 * AsyncLocalStorage of its own: every extra store adds work to each promise
 * of every request on Node 20 (async_hooks), measured at ~5-10 µs a token.
 */
export function engineRequestContext(): ParameterizedContext | undefined {
  return Provider.ctx;
}

/**
 * Seam (lib/helpers/als.js): the engine's AsyncLocalStorage, a module
 * singleton that its routes enter with their Koa context and that
 * `Provider.ctx` reads. Gatehouse keeps each request's log context in it
 * (log.ts, `keepRequestContextIn`) rather than in a store of its own, so
 * during Gatehouse's own requests (pages, admin API) `Provider.ctx` is that
 * request's Koa context, which has no `oidc`: code reading engine state from
 * it checks for `ctx.oidc` first (`engineContext`, `isDpopProofOnlyRequest`).
 */
export function engineContextStore(): AsyncLocalStorage<unknown> {
  return engineStore;
}

/**
 * Seam (lib/provider.js: Provider extends Koa; its `use` inserts each
 * middleware just before the engine's own, after the earlier ones): these go
 * first, outermost, ahead of everything `provider.use` added, by way of
 * Koa's `middleware` array, which `callback()` composes when it is called.
 * The composition root installs its access log, security headers and error
 * renderer this way, so a protocol request runs in one Koa context (the
 * provider's) instead of one of Gatehouse's wrapping the one
 * `provider.callback()` builds. Call before `provider.callback()`.
 */
export function useOutermost(provider: Provider, middleware: readonly Middleware[]): void {
  provider.middleware.unshift(...(middleware as Middleware[]));
}

const ROUTE_METHODS = ['get', 'post', 'put', 'delete', 'options'] as const;
const ownOidcContext = Symbol('gatehouse.oidcContext');

/**
 * Seam, oidc-provider 9.13 (lib/helpers/initialize_app.js `ensureOIDC`, the
 * first middleware of every engine route, and lib/helpers/router.js, which
 * composes a route's middleware when the route is registered, in the
 * Provider's constructor): `ensureOIDC` defines `ctx.oidc` on each request
 * as a getter that is a new closure over that request's context. V8 keeps a
 * property's accessor pair with the object's hidden class (maps live in the
 * old generation), so every request's context was reachable from the old
 * generation and survived young-generation collections with everything it
 * refers to: one of the three references behind the ~10 KB promoted per
 * client-credentials token that `--trace-gc-nvp` found (docs/performance.md,
 * "Client credentials (eighth round)").
 *
 * While `construct` builds the Provider, the router's registering methods
 * are wrapped to put an equivalent of `ensureOIDC` in its place: the same
 * lazily built `OIDCContext` and the same AsyncLocalStorage entry, with one
 * getter shared by every request that keeps the context under a symbol of
 * the request's own. That getter reads its receiver (`this`), where the
 * engine's closed over the context: nothing reads `oidc` through an object
 * that inherits from a Koa context. The router is restored afterwards, so
 * Providers built outside `construct` are untouched; `construct` must build
 * exactly one. The construction fails loudly unless every route was
 * registered, on one router, with `ensureOIDC` first (an engine that
 * changed). Tested in test/oidc/provider-internals.test.ts.
 */
export function constructWithSharedOidcGetter(construct: () => Provider): Provider {
  let provider: Provider | undefined;
  function oidcOfRequest(this: KoaContextWithOIDC & { [ownOidcContext]?: KoaContextWithOIDC['oidc'] }) {
    this[ownOidcContext] ??= new (provider as Provider).OIDCContext(this);
    return this[ownOidcContext];
  }
  async function ensureOidc(ctx: unknown, next: () => Promise<void>): Promise<void> {
    Object.defineProperty(ctx, 'oidc', { get: oidcOfRequest });
    return engineStore.run(ctx, next);
  }
  const routerMethods = EngineRouter.prototype;
  const originals = ROUTE_METHODS.map((method) => [method, routerMethods[method]] as const);
  const routers = new Set<EngineRouter>();
  let registered = 0;
  let replaced = 0;
  for (const [method, register] of originals) {
    routerMethods[method] = function registerWithSharedOidcGetter(this: EngineRouter, name, path, ...middleware) {
      routers.add(this);
      registered += 1;
      if (middleware[0]?.name === 'ensureOIDC') {
        middleware[0] = ensureOidc;
        replaced += 1;
      }
      return register.call(this, name, path, ...middleware);
    };
  }
  try {
    provider = construct();
  } finally {
    for (const [method, register] of originals) routerMethods[method] = register;
  }
  // One router with at least one route, every one of them replaced.
  if (routers.size !== 1 || replaced !== registered)
    throw new Error(
      `oidc-provider registered ${registered} routes on ${routers.size} routers, ${replaced} with ensureOIDC first: ` +
        `re-check this seam (checked against ${CHECKED_ENGINE_VERSION}, where every route of one router has it)`,
    );
  return provider;
}
