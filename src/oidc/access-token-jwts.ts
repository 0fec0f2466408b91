import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { Adapter } from 'oidc-provider';
import { publicPart, type PrivateJwk } from '../keys/signing-keys.js';

/** The claims of a Gatehouse JWT access token (RFC 9068 §2.2). */
export interface AccessTokenClaims extends JWTPayload {
  readonly jti: string;
  readonly client_id: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly exp: number;
  readonly iat: number;
  readonly scope?: string;
  /** Set for tokens issued under a user's grant (see extraTokenClaims in introspection.ts). */
  readonly grant_id?: string;
}

/**
 * Checks JWT access tokens the way a resource server would (RFC 9068 §4):
 * our issuer, `typ: at+jwt`, RS256 with one of our keys, not expired. They
 * are not stored, so a revoked one is remembered by its `jti` until it
 * expires, in the adapter's table under its own model name.
 */
export function createAccessTokenJwts(input: { issuer: string; keys: readonly PrivateJwk[]; adapterFor(model: string): Adapter }) {
  const jwks = createLocalJWKSet({ keys: input.keys.map((key) => publicPart(key)) });
  const revoked = input.adapterFor('RevokedAccessToken');

  return {
    ...createAccessTokenLiveness(input.adapterFor),
    /** The token's claims, or undefined when it is not a live token of ours. */
    async verify(token: string): Promise<AccessTokenClaims | undefined> {
      try {
        const { payload } = await jwtVerify(token, jwks, { issuer: input.issuer, typ: 'at+jwt', algorithms: ['RS256'] });
        const { jti, client_id: clientId, sub, aud, exp, iat } = payload;
        if (typeof jti !== 'string' || typeof clientId !== 'string' || typeof sub !== 'string') return undefined;
        if (aud === undefined || typeof exp !== 'number' || typeof iat !== 'number') return undefined;
        return payload as AccessTokenClaims;
      } catch {
        return undefined;
      }
    },

    /** RFC 7009 §2: from now on the token introspects as inactive. */
    async revoke(claims: AccessTokenClaims): Promise<void> {
      const secondsLeft = Math.max(1, claims.exp - Math.floor(Date.now() / 1000));
      await revoked.upsert(claims.jti, { clientId: claims.client_id, exp: claims.exp }, secondsLeft);
    },
  };
}

export type AccessTokenJwts = ReturnType<typeof createAccessTokenJwts>;

/**
 * Whether a verified JWT access token still stands: not revoked, its client
 * still registered, and the user's grant it came from (if any) not revoked
 * or expired. The one rule for introspection and the admin API alike.
 */
export function createAccessTokenLiveness(adapterFor: (model: string) => Adapter) {
  const revoked = adapterFor('RevokedAccessToken');
  const grants = adapterFor('Grant');
  const isRevoked = async (claims: AccessTokenClaims): Promise<boolean> => (await revoked.find(claims.jti)) !== undefined;
  return {
    isRevoked,

    async isLive(claims: AccessTokenClaims, clientExists: (clientId: string) => Promise<boolean>): Promise<boolean> {
      const [exists, wasRevoked] = await Promise.all([clientExists(claims.client_id), isRevoked(claims)]);
      if (!exists || wasRevoked) return false;
      if (claims.grant_id === undefined) return true;
      const grant = await grants.find(claims.grant_id);
      const exp = typeof grant?.exp === 'number' ? grant.exp : 0;
      return Boolean(grant && exp > Math.floor(Date.now() / 1000) && grant.clientId === claims.client_id);
    },
  };
}

export type AccessTokenLiveness = ReturnType<typeof createAccessTokenLiveness>;
