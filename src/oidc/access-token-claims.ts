import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Resource } from '../clients/resources.js';
import { extraTokenClaims as grantClaims } from './introspection.js';

type ExtraTokenClaims = NonNullable<Configuration['extraTokenClaims']>;

export interface AccessTokenClaimDependencies {
  findResourceByIdentifier(identifier: string): Promise<Resource | null>;
  /** Every scope of this API the user holds through their roles. */
  permissionsOf(accountId: string, resource: string): Promise<string[]>;
  /** The user's role names. */
  rolesOf(accountId: string): Promise<string[]>;
}

/**
 * Claims added to JWT access tokens for an API: `grant_id` (introspection.ts);
 * for a user's token, `permissions` when the API has rbac and
 * permissions_claim on (every permission the user holds there, as Auth0's
 * RBAC does), and `roles` (RFC 9068 §2.2.3.1) when the client registered the
 * `roles` scope. Client-credentials tokens get neither.
 */
export function accessTokenClaims(deps: AccessTokenClaimDependencies): ExtraTokenClaims {
  return async (ctx, token) => {
    const base = (await grantClaims(ctx, token)) ?? {};
    const { accountId, resourceServer } = token as { accountId?: string; resourceServer?: { audience?: string } };
    const audience = resourceServer?.audience;
    if (!accountId || typeof audience !== 'string') return Object.keys(base).length ? base : undefined;
    const claims: Record<string, unknown> = { ...base };
    const resource = await deps.findResourceByIdentifier(audience);
    if (resource?.rbac && resource.permissionsClaim) claims.permissions = await deps.permissionsOf(accountId, audience);
    if (clientRegistered(ctx, 'roles')) claims.roles = rolesLoadedWithAccount(ctx, accountId) ?? (await deps.rolesOf(accountId));
    return claims;
  };
}

/**
 * The roles findAccount (provider.ts) loaded with the account for this same
 * request, when it did: the token endpoint looks the account up anyway
 * (refresh, code), so the roles need no second read.
 */
function rolesLoadedWithAccount(ctx: KoaContextWithOIDC, accountId: string): string[] | undefined {
  const account = ctx.oidc.entities.Account as { accountId?: string; roles?: unknown } | undefined;
  return account?.accountId === accountId && Array.isArray(account.roles) ? (account.roles as string[]) : undefined;
}

function clientRegistered(ctx: KoaContextWithOIDC, scope: string): boolean {
  const registered = ctx.oidc.client?.scope;
  return typeof registered === 'string' && registered.split(' ').includes(scope);
}
