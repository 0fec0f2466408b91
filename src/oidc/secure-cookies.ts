import type Provider from 'oidc-provider';

/**
 * Seam, oidc-provider 9.13 (lib/helpers/oidc_context.js `cookies`,
 * lib/models/session.js `get`): the engine's cookie jar is Secure when
 * `ctx.secure` is; the provider is a Koa app, so its `request.secure` getter
 * decides. test/e2e/secure-cookies.test.ts covers it.
 *
 * With an https issuer, oidc-provider's cookies (`_session`, `_interaction`,
 * `_interaction_resume`) are always `Secure`, even when TLS ends at a proxy
 * that is not trusted to say so (GATEHOUSE_TRUST_PROXY unset): the provider's
 * requests count as secure, so its cookie jar marks every cookie Secure.
 */
export function alwaysSecureCookies(provider: Provider): void {
  Object.defineProperty(provider.request, 'secure', { configurable: true, get: () => true });
}
