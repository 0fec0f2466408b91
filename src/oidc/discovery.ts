import type { Configuration } from 'oidc-provider';

/** Client authentication methods Gatehouse accepts (RFC 7591 §2 names). */
export const CLIENT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

/**
 * Discovery metadata oidc-provider does not write itself (RFC 8414 §2). Both
 * documents (/.well-known/openid-configuration and
 * /.well-known/oauth-authorization-server) come from the same handler, so
 * they stay the same.
 */
export function discoveryExtras(): NonNullable<Configuration['discovery']> {
  return {
    // RFC 7009: public clients revoke their own tokens with `none`.
    revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
    // RFC 7662 §4: only authenticated (confidential) clients learn anything at introspection.
    introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS.filter((method) => method !== 'none'),
  };
}
