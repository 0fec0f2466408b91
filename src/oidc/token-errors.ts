import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * RFC 6749 §5.2: a client asking for a grant type it is not registered for
 * gets `unauthorized_client`. oidc-provider answers `invalid_request` there
 * (after authenticating the client), so the answer is corrected here: the
 * client is authenticated, the grant type is one the server supports, and
 * the client may not use it.
 */
export function unauthorizedClientForDisallowedGrants() {
  return async function correctDisallowedGrantError(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    await next();
    if (ctx.oidc?.route !== 'token' || ctx.status !== 400) return;
    const body = ctx.body as { error?: unknown } | undefined;
    const client = ctx.oidc.client;
    const grantType = ctx.oidc.params?.grant_type;
    if (body?.error !== 'invalid_request' || !client || typeof grantType !== 'string') return;
    if (client.grantTypeAllowed(grantType)) return;
    ctx.body = { error: 'unauthorized_client', error_description: `this client is not registered for the ${grantType} grant` };
  };
}
