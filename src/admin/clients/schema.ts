import { z } from 'zod';
import { pageSchema } from '../pagination.js';

/** A public JWK as stored (private members were refused at registration). */
const publicJwkView = z.object({ kty: z.string() }).catchall(z.unknown());

/** A client as the admin API shows it: RFC 7591 metadata and dates; never the secret or its hash. */
export const clientView = z.object({
  client_id: z.string(),
  client_name: z.string().optional(),
  application_type: z.enum(['web', 'native']),
  redirect_uris: z.array(z.string()),
  post_logout_redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  response_types: z.array(z.string()),
  token_endpoint_auth_method: z.string(),
  token_endpoint_auth_signing_alg: z.string().optional(),
  jwks: z.object({ keys: z.array(publicJwkView) }).optional(),
  jwks_uri: z.string().optional(),
  scope: z.string().optional(),
  default_resource: z.string().optional(),
  introspection_resources: z.array(z.string()).optional(),
  require_mfa: z.boolean().optional(),
  require_pkce: z.boolean().optional(),
  first_party: z.boolean().optional(),
  backchannel_logout_uri: z.string().optional(),
  backchannel_logout_session_required: z.boolean().optional(),
  require_pushed_authorization_requests: z.boolean().optional(),
  dpop_bound_access_tokens: z.boolean().optional(),
  /** The APIs the client may get tokens for, and the scopes on each. */
  api_access: z.array(z.object({ resource: z.string(), scopes: z.array(z.string()) })),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});

/** At registration only: the view plus the secret, shown this once (confidential clients). */
export const registeredClientView = clientView.extend({ client_secret: z.string().optional() });

export const clientSecretView = z.object({ client_id: z.string(), client_secret: z.string() });

export const clientPage = pageSchema(clientView);
