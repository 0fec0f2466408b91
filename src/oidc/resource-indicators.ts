import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Resource } from '../clients/resources.js';
import { NO_DEFAULT_RESOURCE } from './provider-internals.js';

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>;
type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

export interface ResourceIndicatorDependencies {
  /** Cached: this runs on every token request. */
  findResourceByIdentifier(identifier: string): Promise<Resource | null>;
  /** Upper bound on any API's access-token lifetime, in seconds. */
  readonly maxAccessTokenTtl: number;
  /** The admin API's identifier: its scopes go only to clients registered with them. */
  readonly adminResource: string;
}

/** Extra client metadata (RFC 7591 §2 allows extensions) that Gatehouse reads. */
export const EXTRA_CLIENT_METADATA = ['default_resource', 'introspection_resources', 'allowed_scope'] as const;

/**
 * RFC 8707: access tokens for a registered API are RS256 JWTs (RFC 9068).
 * For client_credentials, the API is the `resource` parameter or the client's
 * `default_resource`, and every requested scope must be granted or the
 * request fails (RFC 6749 §5.2 invalid_scope).
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
      const apiScopes = resource.scopes.map((scope) => scope.name);
      if (ctx.oidc.params?.grant_type === 'client_credentials') {
        // One token, one audience (as oidc-provider's handler requires), checked before scopes.
        if (Array.isArray(ctx.oidc.params.resource) && ctx.oidc.params.resource.length > 1) {
          throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type');
        }
        checkClientCredentialsScope(ctx, client, apiScopes);
      }
      return {
        audience: resource.identifier,
        // What any grant may carry for this API: never more than the client was registered for.
        scope: scopesForClient(client, apiScopes, indicator === deps.adminResource).join(' '),
        accessTokenTTL: Math.min(resource.accessTokenTtl, deps.maxAccessTokenTtl),
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
}

/**
 * The API scopes a client may receive, in every flow (a user's consent cannot
 * widen a client's registration): those in its registered `scope`; a client
 * registered without `scope` gets any API's scopes but the admin API's.
 */
function scopesForClient(client: OidcClient | undefined, apiScopes: string[], isAdminApi: boolean): string[] {
  const allowed = client?.allowed_scope; // see prisma-adapter.ts
  if (typeof allowed !== 'string') return isAdminApi ? [] : apiScopes;
  const registered = new Set(allowed.split(' '));
  return apiScopes.filter((scope) => registered.has(scope));
}

/**
 * Scopes granted = requested ∩ the client's `scope` ∩ the API's scopes. A
 * requested scope outside that is invalid_scope (RFC 6749 §5.2), where
 * oidc-provider would silently drop it. A client registered without `scope`
 * may have none. No `scope` asks for everything the client may have for this
 * API (RFC 6749 §3.3 lets the server pick a default).
 */
function checkClientCredentialsScope(ctx: KoaContextWithOIDC, client: OidcClient | undefined, apiScopes: string[]): void {
  const allowed = client?.allowed_scope; // see prisma-adapter.ts
  const allowedForClient = new Set(typeof allowed === 'string' ? allowed.split(' ') : []);
  const grantable = apiScopes.filter((scope) => allowedForClient.has(scope));
  const params = ctx.oidc.params as Record<string, unknown>;
  if (typeof params.scope !== 'string' || params.scope === '') {
    if (grantable.length) params.scope = grantable.join(' ');
    return;
  }
  const refused = params.scope.split(' ').filter((scope) => !grantable.includes(scope));
  if (refused.length) throw new errors.InvalidScope('requested scope is not allowed for this client and API', refused.join(' '));
}
