import type Provider from 'oidc-provider';
import { errors } from 'oidc-provider';
import { checkBeforeClientSecretComparison } from './provider-internals.js';

/**
 * oidc-provider treats client_secret_basic and client_secret_post as one
 * mechanism: a client registered for one may use the other. Gatehouse holds
 * each client to the method it registered (RFC 7591 §2
 * `token_endpoint_auth_method`; oidc-provider uses the same registered value
 * at introspection and revocation). Checked before the secret comparison,
 * which runs only for the secret-based methods, after the client is known.
 */
export function enforceRegisteredSecretMethod(provider: Provider): void {
  checkBeforeClientSecretComparison(provider, (client, ctx) => {
    const params = ctx?.oidc?.params as Record<string, unknown> | undefined;
    const used = params?.client_secret !== undefined ? 'client_secret_post' : 'client_secret_basic';
    if (ctx && used !== client.clientAuthMethod) {
      throw new errors.InvalidClientAuth(`the client is registered for ${client.clientAuthMethod}, not ${used}`);
    }
  });
}
