import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

type OidcClient = NonNullable<KoaContextWithOIDC['oidc']['client']>;

/**
 * RFC 7636 + RFC 9700 §2.1.1: PKCE for every client, unless a confidential
 * client is registered with `require_pkce: false` (libraries such as
 * passport-openidconnect cannot send it). Such a client is protected against
 * code injection by the OpenID `nonce` instead, which RFC 9700 §2.1.1 permits
 * for confidential OpenID clients: without a code_challenge its request must
 * be an OpenID request with a nonce. Only S256 is accepted (oidc-provider).
 */
export function pkcePolicy(): NonNullable<Configuration['pkce']> {
  return {
    required: (ctx: KoaContextWithOIDC, client: OidcClient) => {
      if (!mayOmitPkce(client)) return true;
      const params = ctx.oidc.params ?? {};
      const scopes = typeof params.scope === 'string' ? params.scope.split(' ') : [];
      if (!scopes.includes('openid')) {
        throw new errors.InvalidRequest('PKCE is required for requests without the openid scope');
      }
      if (typeof params.nonce !== 'string' || params.nonce === '') {
        throw new errors.InvalidRequest('nonce is required when PKCE is not used');
      }
      return false;
    },
  };
}

/** Registration only allows `require_pkce: false` for confidential clients; checked again here. */
function mayOmitPkce(client: OidcClient): boolean {
  const metadata = client as unknown as Record<string, unknown>;
  return metadata.require_pkce === false && client.clientAuthMethod !== 'none';
}
