import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { z } from 'zod';
import { isStorableText } from '../http/storable-text.js';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:']);

/**
 * Why a redirect URI is unacceptable, or undefined when it is fine.
 * RFC 6749 §3.1.2 (absolute, no fragment), RFC 8252 §7 (native apps: private-use
 * schemes and loopback), and https everywhere else.
 */
export function redirectUriProblem(value: string, applicationType: 'web' | 'native'): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${value} is not an absolute URI`;
  }
  if (url.hash || value.includes('#')) return `${value} must not contain a fragment`;
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `${value} uses a forbidden scheme`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    return LOOPBACK_HOSTS.has(url.hostname) ? undefined : `${value} must use https (http is allowed for loopback only)`;
  }
  if (applicationType === 'native' && url.protocol.includes('.')) return undefined; // RFC 8252 §7.1: reverse-DNS scheme
  return applicationType === 'native'
    ? `${value} must use https, loopback http, or a reverse-domain private-use scheme`
    : `${value} uses a custom scheme, allowed for native clients only`;
}

/** Back-Channel Logout §2.2: an absolute https URL (http on loopback), no fragment. */
function backchannelUriProblem(value: string): string | undefined {
  const url = new URL(value);
  if (url.hash || value.includes('#')) return 'must not contain a fragment';
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) return 'must use https (http is allowed for loopback only)';
  return undefined;
}

// RFC 8628: devices without a browser sign in with the device grant.
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const grantType = z.enum(['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT]);
/** Grants that can issue a refresh token. */
const USER_GRANTS: readonly string[] = ['authorization_code', DEVICE_CODE_GRANT];

const scopeToken = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;
const singleScope = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The OpenID scopes a client may register in `scope`; API scopes are granted with `api_access`. */
export const CLIENT_OIDC_SCOPES = ['openid', 'profile', 'email', 'roles', 'offline_access'] as const;
/** What a client registered without `scope` may receive: not `roles` (it must ask for that). */
export const DEFAULT_CLIENT_SCOPE = 'openid profile email offline_access';

/** An RFC 8707 resource indicator: an absolute URI without a fragment (§2). */
const resourceIndicator = z
  .url({ error: 'must be an absolute URI' })
  .refine((value) => !value.includes('#'), 'must not contain a fragment (RFC 8707 §2)')
  // Postgres refuses NUL and unpaired surrogates in text and JSON (a 500 if they reached a query).
  .refine(isStorableText, 'must not contain NUL or unpaired surrogate characters');

/**
 * Signature algorithms a `private_key_jwt` client may sign its assertion with
 * (RFC 7523 §3). No `none` and no HMAC: secrets are stored hashed and an
 * assertion must prove possession of a private key.
 */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

/** A public JWK, as RFC 7517 §4 names its members; private members are refused. */
const publicJwk = z
  .object({
    kty: z.enum(['RSA', 'EC', 'OKP']),
    kid: z.string().max(200).optional(),
    alg: z.string().optional(),
    use: z.literal('sig').optional(),
  })
  .catchall(z.unknown())
  .superRefine((jwk, ctx) => {
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) {
      if (member in jwk) ctx.addIssue({ code: 'custom', message: `must be a public key (has "${member}")` });
    }
    if (jwk.alg !== undefined && !(CLIENT_ASSERTION_ALGS as readonly string[]).includes(jwk.alg)) {
      ctx.addIssue({ code: 'custom', path: ['alg'], message: `must be one of ${CLIENT_ASSERTION_ALGS.join(', ')}` });
    }
    try {
      createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a usable public key' });
    }
  });

/**
 * Gatehouse's own per-client policies (RFC 7591 §2 allows extensions), read
 * by oidc-provider as extra client metadata.
 */
export const CLIENT_POLICY_METADATA = ['require_pkce', 'first_party'] as const;

/** RFC 7591 §2 client metadata fields that Gatehouse accepts, each checked alone. */
const clientMetadataFields = z
  .object({
    client_id: z
      .string()
      .regex(/^[\w.:-]{3,128}$/, 'must be 3-128 characters of letters, digits, _ . : -')
      .optional(),
    client_name: z.string().min(1).max(200).optional(),
    application_type: z.enum(['web', 'native']).default('web'),
    // Required for clients that use the authorization endpoint (checked below).
    redirect_uris: z.array(z.string()).max(100).default([]),
    post_logout_redirect_uris: z.array(z.string()).max(100).default([]),
    grant_types: z.array(grantType).min(1).default(['authorization_code']),
    // Defaults to ['code'] with authorization_code and to [] without it (below).
    response_types: z.array(z.literal('code')).optional(),
    token_endpoint_auth_method: z
      .enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'])
      .default('client_secret_basic'),
    token_endpoint_auth_signing_alg: z.enum(CLIENT_ASSERTION_ALGS).optional(),
    jwks: z
      .object({ keys: z.array(publicJwk).min(1).max(20) })
      .strict()
      .optional(),
    // oidc-provider fetches it only over https (RFC 7591 §2 calls for TLS).
    jwks_uri: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
    /** The complete list of OpenID scopes the client may receive (default: DEFAULT_CLIENT_SCOPE). */
    scope: z
      .string()
      .regex(scopeToken, 'must be space-separated scope tokens')
      .superRefine((value, ctx) => {
        const other = value.split(' ').filter((scope) => !(CLIENT_OIDC_SCOPES as readonly string[]).includes(scope));
        if (other.length)
          ctx.addIssue({
            code: 'custom',
            message: `${other.join(', ')}: only OpenID scopes (${CLIENT_OIDC_SCOPES.join(' ')}) go here; grant API scopes with api_access`,
          });
      })
      .optional(),
    /**
     * The APIs this client may get tokens for and the scopes it may ask for
     * on each: a resource not listed is invalid_target, a scope not listed
     * invalid_scope (RFC 8707 §2, RFC 6749 §5.2).
     */
    api_access: z
      .array(
        z
          .object({ resource: resourceIndicator, scopes: z.array(z.string().regex(singleScope, 'must be a scope token')).max(200) })
          .strict(),
      )
      .max(100)
      .superRefine((grants, ctx) => {
        const seen = new Set<string>();
        for (const grant of grants) {
          if (seen.has(grant.resource)) ctx.addIssue({ code: 'custom', message: `${grant.resource} is listed twice` });
          seen.add(grant.resource);
        }
      })
      .transform((grants) => grants.map((grant) => ({ resource: grant.resource, scopes: [...new Set(grant.scopes)] })))
      .default([]),
    /** The API a client_credentials request without `resource` gets a token for (RFC 8707 §2). */
    default_resource: resourceIndicator.optional(),
    /**
     * The APIs this client serves as a resource server: it may introspect
     * tokens whose audience is one of them (RFC 7662 §2.1, §4).
     */
    introspection_resources: z.array(resourceIndicator).max(100).optional(),
    /** Gatehouse: users of this client must sign in with a second factor (enrolling one if they have none). */
    require_mfa: z.boolean().optional(),
    /**
     * false lets a confidential client sign in without PKCE (e.g.
     * passport-openidconnect), sending an OpenID nonce instead (RFC 9700 §2.1.1).
     */
    require_pkce: z.boolean().optional(),
    /** The operator's own app: consent to its scopes is implied, and it gets refresh tokens without prompt=consent. */
    first_party: z.boolean().optional(),
    /** OpenID Connect Back-Channel Logout 1.0 §2.2: where logout tokens are POSTed. */
    backchannel_logout_uri: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** Back-Channel Logout §2.2: the logout token (and ID tokens) carry `sid`. */
    backchannel_logout_session_required: z.boolean().optional(),
    /** RFC 9126 §6: authorization requests only through PAR. */
    require_pushed_authorization_requests: z.boolean().optional(),
    /** RFC 9449 §5.2: access tokens always DPoP-bound. */
    dpop_bound_access_tokens: z.boolean().optional(),
  })
  .strict();

/**
 * What PATCH may send: any field but the id, without defaults (a field left
 * out stays as it is); the merged result is then checked whole.
 */
export const clientMetadataChanges = z
  .object(
    Object.fromEntries(
      Object.entries(clientMetadataFields.omit({ client_id: true }).shape).map(([name, field]) => [
        name,
        // null removes an optional field (as in JSON Merge Patch, RFC 7396 §2).
        field instanceof z.ZodOptional ? field.nullable() : (field instanceof z.ZodDefault ? field.unwrap() : field).optional(),
      ]),
    ),
  )
  .strict();

/** RFC 7591 §2 client metadata that Gatehouse accepts at registration, checked together. */
export const clientMetadataSchema = clientMetadataFields
  .superRefine((metadata, ctx) => {
    for (const [field, uris] of [
      ['redirect_uris', metadata.redirect_uris],
      ['post_logout_redirect_uris', metadata.post_logout_redirect_uris],
    ] as const) {
      for (const uri of uris) {
        const problem = redirectUriProblem(uri, metadata.application_type);
        if (problem) ctx.addIssue({ code: 'custom', path: [field], message: problem });
      }
    }
    const grants = new Set(metadata.grant_types);
    if (grants.has('refresh_token') && !metadata.grant_types.some((grant) => USER_GRANTS.includes(grant))) {
      ctx.addIssue({ code: 'custom', path: ['grant_types'], message: 'refresh_token needs a grant that issues refresh tokens' });
    }
    if (grants.has('authorization_code') && metadata.redirect_uris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'at least one redirect URI is required for authorization_code' });
    }
    if (!grants.has('authorization_code') && metadata.response_types?.length) {
      ctx.addIssue({ code: 'custom', path: ['response_types'], message: 'code needs the authorization_code grant' });
    }
    // RFC 6749 §4.4: only a confidential client may use client_credentials.
    if (grants.has('client_credentials') && metadata.token_endpoint_auth_method === 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['grant_types'],
        message: 'client_credentials needs a confidential client (token_endpoint_auth_method other than none)',
      });
    }
    const usesKeys = metadata.token_endpoint_auth_method === 'private_key_jwt';
    if (usesKeys && !metadata.jwks === !metadata.jwks_uri) {
      ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'private_key_jwt needs exactly one of jwks or jwks_uri' });
    }
    if (!usesKeys && (metadata.jwks || metadata.jwks_uri || metadata.token_endpoint_auth_signing_alg)) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwks'],
        message: 'jwks, jwks_uri and token_endpoint_auth_signing_alg are for private_key_jwt clients',
      });
    }
    // RFC 9700 §2.1.1: only a confidential OpenID client may rely on nonce instead of PKCE.
    if (metadata.require_pkce === false && metadata.token_endpoint_auth_method === 'none') {
      ctx.addIssue({ code: 'custom', path: ['require_pkce'], message: 'PKCE can be turned off only for confidential clients' });
    }
    if (metadata.backchannel_logout_uri) {
      const problem = backchannelUriProblem(metadata.backchannel_logout_uri);
      if (problem) ctx.addIssue({ code: 'custom', path: ['backchannel_logout_uri'], message: problem });
    }
    if (metadata.default_resource && !grants.has('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['default_resource'], message: 'is for client_credentials clients' });
    }
    if (metadata.default_resource && !metadata.api_access.some((grant) => grant.resource === metadata.default_resource)) {
      ctx.addIssue({ code: 'custom', path: ['default_resource'], message: 'must be one of the APIs in api_access' });
    }
  })
  .transform(({ response_types, ...metadata }) => ({
    ...metadata,
    response_types: response_types ?? (metadata.grant_types.includes('authorization_code') ? ['code' as const] : []),
  }));

export type ClientMetadataInput = z.input<typeof clientMetadataSchema>;
export type ClientMetadata = z.output<typeof clientMetadataSchema>;
