import type { KeyObject } from 'node:crypto';
import Provider, { type Adapter, type Configuration, type errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config/config.js';
import type { UserService } from '../accounts/users.js';
import type { ResourceService } from '../clients/resources.js';
import { clientSecretMatches } from '../clients/client-secrets.js';
import type { SigningKeySet } from '../keys/signing-keys.js';
import type { PageRenderer } from '../http/pages.js';
import { createErrorRenderer } from '../http/error-renderer.js';
import { answerUnrouted } from '../http/unrouted.js';
import { protocolMethodsFor } from './protocol-routes.js';
import type { Logger } from '../log.js';
import type { AuditLog } from '../audit/events.js';
import { deviceFlowFeature, deviceFlowMiddleware, type DeviceFlowStores } from './device/device-flow.js';
import type { DevicePages } from './device/pages.js';
import { createAccessTokenJwts } from './access-token-jwts.js';
import { observeProvider } from './observability.js';
import { recordRefreshReuse } from '../metrics/metrics.js';
import { introspectionFeatures, structuredTokenEndpoints } from './introspection.js';
import { accessTokenClaims } from './access-token-claims.js';
import type { RoleService } from '../accounts/roles.js';
import { EXTRA_CLIENT_METADATA, refreshGrantCheck, resourceIndicators } from './resource-indicators.js';
import { CLAIMS_BY_SCOPE, OIDC_SCOPES } from './scopes.js';
import type { RequestCounters } from '../http/request-counters.js';
import { flowStartLimit } from './flow-start-limit.js';
import {
  alwaysSecureCookies,
  checkBeforeRefreshRotation,
  compareClientSecretsWith,
  constructWithSharedOidcGetter,
  isRefreshTokenReuse,
  reuseClientPerPayload,
  unauthorizedClientForDisallowedGrants,
  useAroundEngine,
} from './provider-internals.js';
import type { TokenRequests } from './token-requests.js';
import { databaseOutageAnswers } from './database-outages.js';
import { EXTERNAL_SIGNING_FEATURE, engineSigningKeys } from './engine-signing-keys.js';

/** The live provider; swapped when signing keys change, so read `current` per request. */
export interface ProviderRef {
  current: Provider;
}

/** oidc-provider's storage by model name (the Prisma adapter), also for code outside src/oidc/. */
export type AdapterFactory = (model: string) => Adapter;
import { withSignInAgainForGoneAccount } from './gone-account-prompt.js';
import { mfaInteractionPolicy } from './mfa-prompt.js';
import { ACR_VALUES } from '../mfa/mfa-policy.js';
import { pkcePolicy } from './pkce-policy.js';
import { enforceRegisteredSecretMethod } from './client-auth-method.js';
import { emptyRevocationResponses } from './revocation-response.js';
import { acceptPostedRequests } from './post-requests.js';
import { clientBasedCors } from './cors-policy.js';
import { CLIENT_AUTH_METHODS, discoveryExtras } from './discovery.js';
import { CLIENT_POLICY_METADATA } from '../clients/client-metadata.js';
import { firstPartyOfflineAccess } from './first-party.js';
import { impliedConsentGrants, withImpliedConsent } from './implied-consent.js';
import { accountOfThisRequest } from './request-memo.js';
import { outboundFetch, queueLogoutTokens } from './backchannel-logout.js';
import type { LogoutToQueue } from './backchannel-logout-store.js';

export interface ProviderDependencies {
  readonly config: Config;
  readonly cookieKeys: string[];
  readonly clientSecretKey: KeyObject;
  readonly keys: SigningKeySet;
  readonly adapter: AdapterFactory;
  readonly users: UserService;
  readonly resources: ResourceService;
  readonly roles: RoleService;
  readonly pages: PageRenderer;
  /** The device verification pages (RFC 8628 §3.3), built by the composition root. */
  readonly devicePages: DevicePages;
  readonly audit: AuditLog;
  readonly log: Logger;
  readonly deviceFlowStores: DeviceFlowStores;
  /** Back-channel logout tokens go to the outbox (backchannel-logout-store.ts); a job delivers them. */
  readonly queueLogout: (logout: LogoutToQueue) => Promise<void>;
  readonly requestCounters: RequestCounters;
  /** What the adapter learns about each token request (client gone, refresh retries). */
  readonly tokenRequests?: TokenRequests;
  /** The admin API's resource indicator: implied consent grants its scopes to users with the `admin` role only. */
  readonly adminResource: string;
}

export { CLAIMS_BY_SCOPE } from './scopes.js';

export function createProvider(deps: ProviderDependencies): Provider {
  const errorRenderer = createErrorRenderer(deps.pages, deps.log);
  const configuration: Configuration = {
    adapter: deps.adapter,
    jwks: { keys: engineSigningKeys(deps.keys.keys) },
    cookies: { keys: deps.cookieKeys },
    // acr, amr (RFC 8176) and auth_time in every ID token (OIDC Core §2): released with `openid`.
    claims: {
      ...Object.fromEntries(Object.entries(CLAIMS_BY_SCOPE).map(([scope, claims]) => [scope, [...claims]])),
      openid: [...CLAIMS_BY_SCOPE.openid, 'acr', 'amr', 'auth_time'],
    },
    scopes: [...OIDC_SCOPES],
    // Apps expect the scope's claims in the ID token too (as Keycloak and Auth0 do).
    conformIdTokenClaims: false,
    findAccount: findAccount(deps.users),
    loadExistingGrant: impliedConsentGrants(renewingGrantLoader(deps.config.ttl.refreshToken), deps.adminResource),
    ...protocolPolicy(),
    // Still rotates every time; checks grants first so a refused refresh loses nothing.
    rotateRefreshToken: checkBeforeRefreshRotation(refreshGrantCheck(rbacLookups(deps))),
    extraClientMetadata: { properties: [...EXTRA_CLIENT_METADATA, ...CLIENT_POLICY_METADATA] },
    discovery: discoveryExtras(),
    clientBasedCORS: clientBasedCors,
    fetch: outboundFetch(deps.config.outbound),
    extraTokenClaims: accessTokenClaims(rbacLookups(deps)),
    ttl: lifetimes(deps.config),
    features: features(deps),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: withImpliedConsent(
        withSignInAgainForGoneAccount(deps.config.mfa.mode === 'off' ? undefined : mfaInteractionPolicy(deps.roles.requiresMfa)),
      ),
    },
    // Gatehouse's acr convention: src/mfa/mfa-policy.ts (discovery's acr_values_supported).
    acrValues: [...ACR_VALUES],
    // oidc-provider has chosen HTML (a browser) and set the status; the one renderer draws the page.
    renderError: async (ctx, out) => {
      errorRenderer.write(
        ctx,
        { status: ctx.status, code: out.error, description: out.error_description ?? out.error, headers: {} },
        'page',
      );
    },
  };
  // Each request's ctx.oidc through one shared getter, so requests stay in the young generation.
  const provider = constructWithSharedOidcGetter(() => new Provider(deps.config.issuer, configuration));
  // First and outermost: a request no route took gets the same error shape as everything else (405 with Allow where the path exists).
  provider.use(answerUnrouted(errorRenderer, protocolMethodsFor));
  provider.proxy = deps.config.trustProxy;
  // The provider is a Koa app of its own: like the outer app, only the last
  // X-Forwarded-For hop (the trusted proxy's) names the client.
  provider.maxIpsCount = 1;
  if (new URL(deps.config.issuer).protocol === 'https:') alwaysSecureCookies(provider);
  // oidc-provider compares the presented secret with `client_secret` from the
  // adapter, which for Gatehouse is a keyed hash: hash, then compare in constant time.
  compareClientSecretsWith(provider, (presented, stored) => clientSecretMatches(presented, stored, deps.clientSecretKey));
  // One Client per cached client payload, instead of the engine's hash of it on every request.
  reuseClientPerPayload(provider);
  observeProvider(provider, deps.log); // before the other middleware, so it sees every request through
  const outages = databaseOutageAnswers(errorRenderer, deps.log);
  useAroundEngine(provider, outages.middleware());
  if (deps.tokenRequests) useAroundEngine(provider, deps.tokenRequests.middleware());
  useAroundEngine(provider, flowStartLimit(deps.requestCounters, deps.config.flowStartsPerIpPerMinute, deps.pages));
  useAroundEngine(provider, unauthorizedClientForDisallowedGrants());
  enforceRegisteredSecretMethod(provider);
  queueLogoutTokens(provider, deps.queueLogout);
  useAroundEngine(provider, acceptPostedRequests(['/auth', '/session/end']));
  useAroundEngine(provider, firstPartyOfflineAccess(provider));
  useAroundEngine(provider, emptyRevocationResponses());
  const jwts = createAccessTokenJwts({ issuer: deps.config.issuer, keys: deps.keys.keys, adapterFor: deps.adapter });
  useAroundEngine(provider, structuredTokenEndpoints(jwts));
  useAroundEngine(provider, deviceFlowMiddleware(provider, deps));
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: Error) => outages.onServerError(ctx, error));
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => recordRefreshTokenReuse(ctx, error, deps));
  return provider;
}

/**
 * RFC 9700 §4.14.2: a consumed refresh token presented again means it was
 * stolen or replayed; oidc-provider (or the adapter, for a race) revoked the
 * grant. The audit log says so.
 */
function recordRefreshTokenReuse(ctx: KoaContextWithOIDC, error: errors.OIDCProviderError, deps: ProviderDependencies): void {
  if (!isRefreshTokenReuse(ctx, error)) return;
  const token = ctx.oidc.entities.RefreshToken;
  recordRefreshReuse();
  deps.audit
    .record(
      {
        actor: `client:${ctx.oidc.client?.clientId ?? 'unknown'}`,
        requestId: String(ctx.state.requestId ?? '') || undefined,
        clientIp: ctx.ip,
      },
      {
        type: 'refresh_token.reuse_detected',
        subject: token?.accountId,
        details: { client_id: ctx.oidc.client?.clientId, grant_revoked: true },
      },
    )
    .catch((failure: unknown) => deps.log.warn('audit record failed', { err: failure }));
}

/** Secure-by-default protocol choices. */
function protocolPolicy(): Partial<Configuration> {
  return {
    // Authorization code flow only (RFC 9700 §2.1.2: no implicit grant).
    responseTypes: ['code'],
    // RFC 7636 + RFC 9700 §2.1.1: PKCE for every client but confidential ones registered without it.
    pkce: pkcePolicy(),
    // OIDC Core §3.1.2.1: redirect_uri is required, even with a single registered URI.
    allowOmittingSingleRegisteredRedirectUri: false,
    // Rotating refresh tokens: every use returns a new one (RFC 9700 §4.14.2).
    rotateRefreshToken: true,
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      // OIDC Core §2: every ID token carries auth_time (max_age and prompt=login need it).
      require_auth_time: true,
    },
    // No HMAC algorithms: client secrets are stored hashed, so they cannot be
    // used as HMAC keys; and no `none`.
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      idTokenSigningAlgValues: ['RS256'],
      userinfoSigningAlgValues: ['RS256'],
      introspectionSigningAlgValues: ['RS256'],
      authorizationSigningAlgValues: ['RS256'],
    },
  };
}

function lifetimes(config: Config): NonNullable<Configuration['ttl']> {
  const { ttl } = config;
  return {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ttl.accessToken,
    AuthorizationCode: ttl.authorizationCode,
    IdToken: ttl.idToken,
    // `iiat` is the first token's issue time; rotation carries it over.
    RefreshToken: (_ctx, token) => {
      const now = Math.floor(Date.now() / 1000);
      return refreshTokenLifetime({ now, familyStart: token.iiat ?? token.iat ?? now, ...ttl });
    },
    // RFC 6749 §4.4 tokens: the API's lifetime (resource-indicators.ts caps it).
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? Math.min(600, config.maxAccessTokenTtl),
    Grant: ttl.refreshToken,
    // A session nobody signed in to (a cookie-less visit to /device or
    // /session/end) lives as long as an interaction, not for weeks.
    Session: (_ctx, session) => (session.accountId ? ttl.session : ttl.interaction),
    Interaction: ttl.interaction,
    DeviceCode: config.deviceFlow.codeTtl,
  };
}

/**
 * Seconds a new refresh token lives: the idle lifetime, cut short by what is
 * left of the family's absolute lifetime.
 */
export function refreshTokenLifetime(input: { now: number; familyStart: number; refreshToken: number; refreshTokenIdle: number }): number {
  const left = input.refreshToken - (input.now - input.familyStart);
  return Math.max(1, Math.min(input.refreshTokenIdle, left));
}

function features(deps: ProviderDependencies): NonNullable<Configuration['features']> {
  return {
    externalSigningSupport: EXTERNAL_SIGNING_FEATURE,
    devInteractions: { enabled: false },
    // RFC 9126: PAR for every client, required for those registered with
    // `require_pushed_authorization_requests`; registered redirect URIs only.
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: false, allowUnregisteredRedirectUris: false },
    // RFC 9449: DPoP for every client, required for those registered with `dpop_bound_access_tokens`.
    dPoP: { enabled: true, allowReplay: false },
    userinfo: { enabled: true },
    deviceFlow: deviceFlowFeature(deps),
    clientCredentials: { enabled: true },
    // OpenID Connect Back-Channel Logout 1.0 (queued and delivered: backchannel-logout.ts).
    backchannelLogout: { enabled: true },
    ...introspectionFeatures(),
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.type = 'html';
        ctx.body = deps.pages.render('logout', {
          title: 'Sign out',
          form,
          client: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
        });
      },
      postLogoutSuccessSource: async (ctx) => {
        ctx.type = 'html';
        ctx.body = deps.pages.render('logged-out', { title: 'Signed out', client: ctx.oidc.client?.clientName });
      },
    },
    resourceIndicators: resourceIndicators({ ...rbacLookups(deps), maxAccessTokenTtl: deps.config.maxAccessTokenTtl }),
  };
}

/** What token issuance reads about APIs, roles and permissions. */
function rbacLookups(deps: ProviderDependencies) {
  return {
    findResourceByIdentifier: (identifier: string) => deps.resources.findResourceByIdentifier(identifier),
    permissionsOf: async (accountId: string, resource: string) => (await deps.roles.permissionsOf(accountId, resource))[resource] ?? [],
    rolesOf: (accountId: string) => deps.roles.roleNamesOf(accountId),
  };
}

/**
 * oidc-provider's default grant lookup, plus renewal: a grant lives as long as
 * the refresh-token absolute lifetime from the latest sign-in, so a token
 * family started at any sign-in gets its full lifetime.
 */
function renewingGrantLoader(lifetime: number): NonNullable<Configuration['loadExistingGrant']> {
  return async (ctx) => {
    const clientId = ctx.oidc.client?.clientId;
    const grantId = ctx.oidc.result?.consent?.grantId ?? (clientId ? ctx.oidc.session?.grantIdFor(clientId) : undefined);
    if (!grantId) return undefined;
    const grant = await ctx.oidc.provider.Grant.find(grantId);
    const now = Math.floor(Date.now() / 1000);
    // Not for a grant saved moments ago (the sign-in that made it): renewing
    // it would only move its end by the seconds since, for a statement.
    const slack = Math.min(60, Math.floor(lifetime / 10));
    if (grant?.exp && grant.exp - now < lifetime - slack) {
      grant.exp = now + lifetime;
      await grant.save();
    }
    return grant;
  };
}

function findAccount(users: UserService): NonNullable<Configuration['findAccount']> {
  return async (_ctx, accountId) => {
    // The row this request found first (a refresh token, a code, a device code, a session, a resumed
    // interaction) read the account with it (prisma-adapter.ts): no second round trip.
    const user = await accountOfThisRequest(accountId, (id) => users.findUserById(id));
    // A disabled or deleted user's grants stop working: oidc-provider treats
    // a missing account as invalid (invalid_grant at refresh, 401 at userinfo).
    if (!user || user.disabled) return undefined;
    return {
      accountId: user.id,
      // Read again by access-token-claims.ts for the `roles` claim of this request's access token.
      roles: user.roles,
      // Read by the mfa_required prompt check (mfa-prompt.ts) instead of a query of its own.
      rolesRequireMfa: user.rolesRequireMfa,
      claims: async () => ({
        sub: user.id,
        email: user.email,
        email_verified: user.emailVerified,
        name: user.name ?? undefined,
        roles: user.roles,
      }),
    };
  };
}
