import type { KoaContextWithOIDC } from 'oidc-provider';
import { DEVICE_CODE_GRANT } from '../clients/client-metadata.js';

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
    const route = ctx.oidc?.route;
    if ((route !== 'token' && route !== 'device_authorization') || ctx.status !== 400) return;
    const body = ctx.body as { error?: unknown } | undefined;
    const client = ctx.oidc.client;
    // RFC 8628 §3.1: the device authorization endpoint is for clients with the device grant.
    const grantType = route === 'device_authorization' ? DEVICE_CODE_GRANT : ctx.oidc.params?.grant_type;
    if (body?.error !== 'invalid_request' || !client || typeof grantType !== 'string') return;
    if (client.grantTypeAllowed(grantType)) return;
    ctx.body = { error: 'unauthorized_client', error_description: `this client is not registered for the ${grantType} grant` };
  };
}
