import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { UserService } from '../accounts/users.js';
import type { ClientService } from '../clients/clients.js';
import { publicPart, type SigningKeySet } from '../keys/signing-keys.js';
import type { AccessTokenClaims, AccessTokenLiveness } from '../oidc/access-token-jwts.js';

/** Who called the admin API, and with which scopes. */
export interface AdminCaller {
  /** `client:<client_id>` or `user:<id>`. */
  readonly actor: string;
  readonly scopes: ReadonlySet<string>;
}

export type AdminAuthResult = { ok: true; caller: AdminCaller } | { ok: false; reason: string; missing: boolean };

export interface AdminAuthOptions {
  readonly issuer: string;
  /** The admin API's resource indicator, `${ISSUER}/admin`: the required `aud`. */
  readonly audience: string;
  /** The key set this instance publishes right now. */
  readonly currentKeys: () => SigningKeySet;
  readonly users: UserService;
  readonly clients: ClientService;
  /** The same revocation, client and grant checks as introspection. */
  readonly liveness: AccessTokenLiveness;
}

/**
 * Verifies a Bearer access token for the admin API (RFC 6750 §2.1): an RS256
 * JWT access token of this issuer (RFC 9068 §4), for the admin audience, whose
 * subject still exists: a deleted client, or a user deleted, disabled or no
 * longer `admin`, loses access before its token expires.
 */
export function createAdminAuthenticator(options: AdminAuthOptions) {
  let jwks: { fingerprint: string; resolve: ReturnType<typeof createLocalJWKSet> } | undefined;
  const keyResolver = () => {
    const keys = options.currentKeys();
    if (jwks?.fingerprint !== keys.fingerprint) {
      jwks = { fingerprint: keys.fingerprint, resolve: createLocalJWKSet({ keys: keys.keys.map((key) => publicPart(key)) }) };
    }
    return jwks.resolve;
  };

  return async function authenticate(authorization: string | undefined): Promise<AdminAuthResult> {
    // RFC 6750 §3.1: a request with no Bearer credentials at all gets the bare challenge.
    if (!authorization || !/^Bearer\s/i.test(authorization)) return { ok: false, reason: 'a Bearer token is required', missing: true };
    const match = /^Bearer ([\w\-.~+/]+=*)$/i.exec(authorization);
    if (!match?.[1]) return { ok: false, reason: 'malformed Authorization header', missing: false };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], keyResolver(), {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ['RS256'],
        typ: 'at+jwt',
        requiredClaims: ['exp', 'sub', 'client_id'],
      }));
    } catch (error) {
      return { ok: false, reason: describeJwtError(error), missing: false };
    }
    const claims = payload as AccessTokenClaims;
    const live = await options.liveness.isLive(claims, async (id) => Boolean(await options.clients.findStoredClient(id)));
    if (!live) return { ok: false, reason: 'the token was revoked, or its client or grant no longer exists', missing: false };
    const subject = String(payload.sub);
    const clientId = String(payload.client_id);
    const scopes = new Set(typeof payload.scope === 'string' ? payload.scope.split(' ') : []);
    // RFC 9068 §2.2: client credentials tokens carry the client as subject.
    if (subject === clientId) return { ok: true, caller: { actor: `client:${clientId}`, scopes } };
    const user = await options.users.findUserById(subject);
    if (!user || user.disabled || !user.roles.includes('admin'))
      return { ok: false, reason: 'the user is no longer an active admin', missing: false };
    return { ok: true, caller: { actor: `user:${user.id}`, scopes } };
  };
}

function describeJwtError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `the token's ${error.claim} claim is not accepted`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the token is not signed with RS256';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'the token is not signed by a key of this server';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  return 'the token is not a valid access token of this server';
}

/** `admin` grants everything; `admin:users:read` grants what it says, and `admin:users:write` implies read. */
export function scopeAllows(scopes: ReadonlySet<string>, required: string): boolean {
  if (scopes.has('admin') || scopes.has(required)) return true;
  return required.endsWith(':read') && scopes.has(required.replace(/:read$/, ':write'));
}
