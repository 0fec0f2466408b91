import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Resource } from '../clients/resources.js';
import { NO_DEFAULT_RESOURCE } from './provider-internals.js';
import { OIDC_SCOPES } from './scopes.js';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;
type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

export interface ResourceIndicatorDependencies {
  /** Cached: this runs on every token request. */
  findResourceByIdentifier(identifier: string): Promise<Resource | null>;
  /** The scopes of this API the user holds through their roles. */
  permissionsOf(accountId: string, resource: string): Promise<string[]>;
  /** Upper bound on any API's access-token lifetime, in seconds. */
  readonly maxAccessTokenTtl: number;
}

/** Extra client metadata (RFC 7591 §2 allows extensions) that Gatehouse reads. */
export const EXTRA_CLIENT_METADATA = ['default_resource', 'introspection_resources', 'api_access', 'require_mfa'] as const;

/** One client grant: an API and the scopes the client may ask for there. */
export interface ApiGrant {
  readonly resource: string;
  readonly scopes: readonly string[];
}

/** The client's `api_access` metadata. */
export function apiAccessOf(client: OidcClient | undefined): readonly ApiGrant[] {
  return client?.api_access ?? [];
}

/**
 * RFC 8707: access tokens for a registered API are RS256 JWTs (RFC 9068).
 * A client gets tokens only for the APIs in its `api_access`, and only with
 * the scopes granted there, in every flow (authorization code, device,
 * refresh, client credentials): another API is invalid_target (RFC 8707 §2),
 * another scope invalid_scope (RFC 6749 §5.2). With the API's `rbac` on, a
 * user's token carries only the scopes the user holds through roles.
 */
export function resourceIndicators(deps: ResourceIndicatorDependencies): ResourceIndicators {
  return {
    enabled: true,
    useGrantedResource: () => true,
    defaultResource: async (ctx, client, oneOf) => {
      if (oneOf) return oneOf;
      if (ctx.oidc.params?.grant_type !== 'client_credentials') return NO_DEFAULT_RESOURCE;
      const resource = client.default_resource;
      // RFC 8707 §2: invalid_target covers a "missing" resource too.
      if (!resource) throw new errors.InvalidTarget('resource is required: name an API, or register the client with a default_resource');
      return resource;
    },
    getResourceServerInfo: async (ctx, indicator, client) => {
      const resource = await deps.findResourceByIdentifier(indicator);
      if (!resource) throw new errors.InvalidTarget(`${indicator} is not a registered API`);
      const grant = apiAccessOf(client).find((candidate) => candidate.resource === resource.identifier);
      if (!grant) throw new errors.InvalidTarget(`this client is not granted access to ${indicator}`);
      const apiScopes = new Set(resource.scopes.map((scope) => scope.name));
      const granted = grant.scopes.filter((scope) => apiScopes.has(scope));
      if (ctx.oidc.params?.grant_type === 'client_credentials') {
        // One token, one audience (as oidc-provider's handler requires), checked before scopes.
        if (Array.isArray(ctx.oidc.params.resource) && ctx.oidc.params.resource.length > 1) {
          throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
        }
        checkClientCredentialsScope(ctx, granted);
      } else {
        refuseUngrantedScopes(ctx, client);
      }
      return {
        audience: resource.identifier,
        // What any grant may carry for this API: the client's grant, and with rbac the user's permissions.
        scope: (await scopesForRequest(ctx, resource, granted, deps)).join(' '),
        accessTokenTTL: Math.min(resource.accessTokenTtl, deps.maxAccessTokenTtl),
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
}

/**
 * The same resource and scope checks as getResourceServerInfo, run before a
 * refresh token is rotated (provider-internals.ts), so a refused refresh
 * loses nothing.
 */
export function refreshGrantCheck(deps: Pick<ResourceIndicatorDependencies, 'findResourceByIdentifier'>) {
  return async (ctx: KoaContextWithOIDC): Promise<void> => {
    const token = ctx.oidc.entities.RefreshToken as { resource?: string | string[]; resourceIndicators?: Set<string> } | undefined;
    const asked = ctx.oidc.params?.resource as string | string[] | undefined;
    const indicators = [asked ?? token?.resource ?? []].flat();
    for (const indicator of indicators) {
      // RFC 8707 §2.2: a refresh may only name a resource of the original grant.
      if (asked !== undefined && !token?.resourceIndicators?.has(indicator))
        throw new errors.InvalidTarget(`${indicator} was not part of this grant`);
      const resource = await deps.findResourceByIdentifier(indicator);
      if (!resource) throw new errors.InvalidTarget(`${indicator} is not a registered API`);
      if (!apiAccessOf(ctx.oidc.client).some((grant) => grant.resource === resource.identifier)) {
        throw new errors.InvalidTarget(`this client is not granted access to ${indicator}`);
      }
    }
    refuseUngrantedScopes(ctx, ctx.oidc.client);
  };
}

/** The user this request acts for: the code's, refresh token's or device code's account, or the browser session's. */
export function accountIdOf(ctx: KoaContextWithOIDC): string | undefined {
  const account = ctx.oidc.entities.Account as { accountId?: string } | undefined;
  return account?.accountId ?? ctx.oidc.session?.accountId;
}

/**
 * RBAC: requested ∩ granted to the client ∩ held by the user. Before the
 * user is known (the authorization request before sign-in) only the client's
 * grant applies; the request is evaluated again once they sign in, and at
 * every token (code, device, refresh), so a role removed narrows the next
 * token and a refresh never widens one.
 */
async function scopesForRequest(
  ctx: KoaContextWithOIDC,
  resource: Resource,
  granted: string[],
  deps: ResourceIndicatorDependencies,
): Promise<string[]> {
  if (!resource.rbac || ctx.oidc.params?.grant_type === 'client_credentials') return granted;
  const accountId = accountIdOf(ctx);
  if (!accountId) return granted;
  const held = new Set(await deps.permissionsOf(accountId, resource.identifier));
  return granted.filter((scope) => held.has(scope));
}

/**
 * RFC 6749 §5.2 / §4.1.2.1: a requested API scope that the client is not
 * granted on any of the requested APIs is invalid_scope, where oidc-provider
 * would silently drop it. (A scope the user lacks under rbac is not an error:
 * it is left out of the token.)
 */
function refuseUngrantedScopes(ctx: KoaContextWithOIDC, client: OidcClient | undefined): void {
  const params = ctx.oidc.params as Record<string, unknown> | undefined;
  if (typeof params?.scope !== 'string' || params.scope === '') return;
  const requested = new Set(Array.isArray(params.resource) ? params.resource : [params.resource]);
  const grants = apiAccessOf(client).filter((grant) => requested.has(grant.resource) || requested.has(undefined));
  const mayAsk = new Set(grants.flatMap((grant) => grant.scopes));
  const refused = params.scope.split(' ').filter((scope) => !OIDC_SCOPES.has(scope) && !mayAsk.has(scope));
  if (refused.length)
    throw new errors.InvalidScope('requested scope is not granted to this client for the requested API', refused.join(' '));
}

/**
 * Client credentials: scopes = requested ∩ the client's grant for this API; a
 * requested scope outside it is invalid_scope (RFC 6749 §5.2). No `scope`
 * asks for everything granted (RFC 6749 §3.3 lets the server pick a default).
 */
function checkClientCredentialsScope(ctx: KoaContextWithOIDC, grantable: string[]): void {
  const params = ctx.oidc.params as Record<string, unknown>;
  if (typeof params.scope !== 'string' || params.scope === '') {
    if (grantable.length) params.scope = grantable.join(' ');
    return;
  }
  const refused = params.scope.split(' ').filter((scope) => !grantable.includes(scope));
  if (refused.length) throw new errors.InvalidScope('requested scope is not allowed for this client and API', refused.join(' '));
}
