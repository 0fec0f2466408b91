import { z } from 'zod';

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

// RFC 8628: devices without a browser sign in with the device grant.
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const grantType = z.enum(['authorization_code', 'refresh_token', DEVICE_CODE]);
/** Grants that can issue a refresh token. */
const USER_GRANTS: readonly string[] = ['authorization_code', DEVICE_CODE];

/** RFC 7591 §2 client metadata that Gatehouse accepts at registration. */
export const clientMetadataSchema = z
  .object({
    client_id: z.string().regex(/^[\w.:-]{3,128}$/, 'must be 3-128 characters of letters, digits, _ . : -').optional(),
    client_name: z.string().min(1).max(200).optional(),
    application_type: z.enum(['web', 'native']).default('web'),
    // Required for authorization_code (checked below); a device-only client has none.
    redirect_uris: z.array(z.string()).max(100).default([]),
    post_logout_redirect_uris: z.array(z.string()).max(100).default([]),
    grant_types: z.array(grantType).min(1).default(['authorization_code']),
    // Default: ['code'] with the authorization_code grant, none without it.
    response_types: z.array(z.literal('code')).optional(),
    token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post']).default('client_secret_basic'),
    scope: z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/, 'must be space-separated scope tokens').optional(),
  })
  .strict()
  .superRefine((metadata, ctx) => {
    for (const [field, uris] of [['redirect_uris', metadata.redirect_uris], ['post_logout_redirect_uris', metadata.post_logout_redirect_uris]] as const) {
      for (const uri of uris) {
        const problem = redirectUriProblem(uri, metadata.application_type);
        if (problem) ctx.addIssue({ code: 'custom', path: [field], message: problem });
      }
    }
    if (metadata.grant_types.includes('authorization_code') && metadata.redirect_uris.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['redirect_uris'], message: 'at least one is required for authorization_code' });
    }
    if (!metadata.grant_types.includes('authorization_code') && metadata.response_types?.length) {
      ctx.addIssue({ code: 'custom', path: ['response_types'], message: 'response types need the authorization_code grant' });
    }
    if (metadata.grant_types.includes('refresh_token') && !metadata.grant_types.some((grant) => USER_GRANTS.includes(grant))) {
      ctx.addIssue({ code: 'custom', path: ['grant_types'], message: 'refresh_token needs a grant that issues refresh tokens' });
    }
  })
  .transform((metadata) => ({
    ...metadata,
    response_types: metadata.response_types ?? (metadata.grant_types.includes('authorization_code') ? ['code' as const] : []),
  }));

export type ClientMetadataInput = z.input<typeof clientMetadataSchema>;
export type ClientMetadata = z.output<typeof clientMetadataSchema>;
