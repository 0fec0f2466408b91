import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { AccessTokenClaims, AccessTokenJwts } from './access-token-jwts.js';
import { onStructuredTokenRefused, type EngineMiddleware } from './provider-internals.js';

type Features = NonNullable<Configuration['features']>;
type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/**
 * Who may introspect a token (RFC 7662 §2.1, §4): an authenticated
 * confidential client that either is the token's client, or serves one of the
 * token's audiences (its `introspection_resources` metadata lists the API
 * identifiers it is the resource server for). Anyone else learns only
 * `active: false`, so a resource server cannot probe another API's tokens.
 */
export function mayIntrospect(caller: OidcClient, tokenClientId: string | undefined, audience: string | string[] | undefined): boolean {
  if (caller.clientAuthMethod === 'none') return false;
  if (caller.clientId === tokenClientId) return true;
  const serves = introspectionResourcesOf(caller);
  const audiences = audience === undefined ? [] : Array.isArray(audience) ? audience : [audience];
  return audiences.some((value) => serves.has(value));
}

function introspectionResourcesOf(client: OidcClient): Set<string> {
  return new Set(client.introspection_resources ?? []);
}

/** RFC 7662 introspection and RFC 7009 revocation, with Gatehouse's policies. */
export function introspectionFeatures() {
  return {
    introspection: {
      enabled: true as const,
      allowedPolicy: (_ctx: KoaContextWithOIDC, client: OidcClient, token: { clientId?: string | undefined }) =>
        mayIntrospect(client, token.clientId, (token as { aud?: string | string[] }).aud),
    },
    revocation: { enabled: true, allowedPolicy: mayRevoke } satisfies Features['revocation'],
  };
}

/**
 * RFC 7009 §2.1: a client may revoke only its own tokens. Another client's
 * token is refused with invalid_request for a confidential caller; a public
 * caller is answered 200 without effect, so it cannot probe tokens.
 */
export async function mayRevoke(_ctx: KoaContextWithOIDC, client: OidcClient, token: { clientId?: string | undefined }): Promise<boolean> {
  if (token.clientId === client.clientId) return true;
  if (client.clientAuthMethod === 'none') return false;
  throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
}

/**
 * JWT access tokens carry the grant they were issued under, so that
 * introspection can tell when the grant was revoked (refresh token revoked
 * or replayed). Client-credentials tokens have no grant.
 */
export const extraTokenClaims: NonNullable<Configuration['extraTokenClaims']> = (_ctx, token) => {
  const { grantId, resourceServer } = token as { grantId?: string; resourceServer?: unknown };
  return grantId && resourceServer ? { grant_id: grantId } : undefined;
};

/**
 * oidc-provider authenticates the caller at its introspection and revocation
 * endpoints, then refuses JWTs (`unsupported_token_type`: it does not store
 * them). Gatehouse answers for its own JWT access tokens instead, after that
 * client authentication: verified signature, not revoked, client still
 * registered, grant still live.
 */
export function structuredTokenEndpoints(jwts: AccessTokenJwts): EngineMiddleware {
  return onStructuredTokenRefused(async (ctx, caller, token) => {
    if (ctx.oidc.route === 'introspection') {
      ctx.status = 200;
      ctx.body = await introspect(ctx, jwts, caller, token);
    } else {
      await revoke(ctx, jwts, caller, token);
    }
  });
}

/** RFC 7662 §2.2. */
async function introspect(ctx: KoaContextWithOIDC, jwts: AccessTokenJwts, caller: OidcClient, token: string) {
  const claims = await jwts.verify(token);
  if (!claims || !mayIntrospect(caller, claims.client_id, claims.aud)) return { active: false };
  if (!(await isLive(ctx, jwts, claims))) return { active: false };
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    sub: claims.sub,
    aud: claims.aud,
    exp: claims.exp,
    iat: claims.iat,
    iss: claims.iss,
    jti: claims.jti,
    // RFC 9449 §6.2: a DPoP-bound token says so, with its key thumbprint.
    ...(isDpopBound(claims.cnf) ? { cnf: claims.cnf, token_type: 'DPoP' } : { token_type: 'Bearer' }),
  };
}

function isDpopBound(cnf: unknown): cnf is { jkt: string } {
  return typeof (cnf as { jkt?: unknown } | undefined)?.jkt === 'string';
}

function isLive(ctx: KoaContextWithOIDC, jwts: AccessTokenJwts, claims: AccessTokenClaims): Promise<boolean> {
  return jwts.isLive(claims, async (clientId) => Boolean(await ctx.oidc.provider.Client.find(clientId)));
}

/** RFC 7009 §2.1-2.2: only the token's client may revoke it; an invalid token is a 200. */
async function revoke(ctx: KoaContextWithOIDC, jwts: AccessTokenJwts, caller: OidcClient, token: string) {
  const claims = await jwts.verify(token);
  if (claims && claims.client_id !== caller.clientId && caller.clientAuthMethod === 'none') {
    ctx.status = 200; // as mayRevoke: a public client learns nothing
    ctx.body = '';
    return;
  }
  if (claims && claims.client_id !== caller.clientId) {
    // The same answer oidc-provider gives for another client's opaque token.
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'client is not authorized to revoke the presented token' };
    return;
  }
  if (claims) await jwts.revoke(claims);
  ctx.status = 200;
  ctx.body = '';
}
