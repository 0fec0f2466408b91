import type { z } from 'zod';
import type { ClientRecord, RegisteredClient } from '../../clients/clients.js';
import type { clientView, registeredClientView } from './schema.js';

/** The fields a client shows to the admin API and the CLI: metadata and dates, never a secret hash. */
export function presentClient(client: ClientRecord | RegisteredClient): z.infer<typeof clientView> {
  return {
    client_id: client.client_id,
    client_name: client.client_name,
    application_type: client.application_type,
    redirect_uris: client.redirect_uris,
    post_logout_redirect_uris: client.post_logout_redirect_uris,
    grant_types: client.grant_types,
    response_types: client.response_types,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    token_endpoint_auth_signing_alg: client.token_endpoint_auth_signing_alg,
    jwks: client.jwks,
    jwks_uri: client.jwks_uri,
    scope: client.scope,
    default_resource: client.default_resource,
    introspection_resources: client.introspection_resources,
    require_mfa: client.require_mfa,
    require_pkce: client.require_pkce,
    first_party: client.first_party,
    backchannel_logout_uri: client.backchannel_logout_uri,
    backchannel_logout_session_required: client.backchannel_logout_session_required,
    require_pushed_authorization_requests: client.require_pushed_authorization_requests,
    dpop_bound_access_tokens: client.dpop_bound_access_tokens,
    // Clients registered before grants existed (and untouched by the migration) have none.
    api_access: (client.api_access ?? []).map((grant) => ({ resource: grant.resource, scopes: [...grant.scopes] })),
    created_at: client.created_at.toISOString(),
    updated_at: client.updated_at.toISOString(),
  };
}

/** A client just registered: as above, plus its secret, which is shown this once. */
export function presentRegisteredClient(client: RegisteredClient): z.infer<typeof registeredClientView> {
  return { ...presentClient(client), ...(client.client_secret ? { client_secret: client.client_secret } : {}) };
}
