import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';

type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/**
 * Which browser origins may call the token, revocation, introspection, PAR,
 * device-authorization and userinfo endpoints with CORS: a public client
 * (a single-page app) from the origins of its registered redirect URIs; at
 * userinfo, any client from those origins. Confidential clients call from
 * their servers, which need no CORS. Discovery and JWKS are open to all.
 */
export const clientBasedCors: NonNullable<Configuration['clientBasedCORS']> = (ctx, origin, client) => {
  if (origin === 'null') return false;
  if (ctx.oidc.route !== 'userinfo' && client.clientAuthMethod !== 'none') return false;
  return redirectOrigins(client).has(origin);
};

function redirectOrigins(client: OidcClient): Set<string> {
  const origins = new Set<string>();
  for (const uri of client.redirectUris ?? []) {
    try {
      origins.add(new URL(uri).origin);
    } catch {
      // Registration checked every URI; nothing to add for one that is not a URL.
    }
  }
  return origins;
}
