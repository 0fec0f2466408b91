import type Provider from 'oidc-provider';

/**
 * With an https issuer, oidc-provider's cookies (`_session`, `_interaction`,
 * `_interaction_resume`) are always `Secure`, even when TLS ends at a proxy
 * that is not trusted to say so (GATEHOUSE_TRUST_PROXY unset): the provider's
 * requests count as secure, so its cookie jar marks every cookie Secure.
 */
export function alwaysSecureCookies(provider: Provider): void {
  Object.defineProperty(provider.request, 'secure', { configurable: true, get: () => true });
}
