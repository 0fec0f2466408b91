import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import type { RegisteredClient } from '../../src/clients/clients.js';
import type { TestGatehouse } from './gatehouse.js';

/** A backend service's view of Gatehouse: openid-client with its own secret. */
export async function discoverAsService(
  gatehouse: TestGatehouse,
  client: RegisteredClient,
  auth?: oidc.ClientAuth,
): Promise<oidc.Configuration> {
  const method =
    auth ??
    (client.token_endpoint_auth_method === 'client_secret_post'
      ? oidc.ClientSecretPost(client.client_secret as string)
      : oidc.ClientSecretBasic(client.client_secret as string));
  return oidc.discovery(new URL(gatehouse.issuer), client.client_id, {}, method, { execute: [oidc.allowInsecureRequests] });
}

/** POSTs a form to a Gatehouse endpoint the way curl would; `basic` is [id, secret]. */
export async function postForm(url: string, fields: Record<string, string | string[]>, basic?: [string, string]): Promise<Response> {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) body.append(name, item);
  }
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic)
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
  return fetch(url, { method: 'POST', headers, body });
}

/** Verifies an access token exactly as a resource server would (RFC 9068 §4). */
export async function verifyAsResourceServer(gatehouse: TestGatehouse, token: string, audience: string) {
  const jwks = createRemoteJWKSet(new URL(`${gatehouse.issuer}/jwks`));
  return jwtVerify(token, jwks, { issuer: gatehouse.issuer, audience, typ: 'at+jwt', algorithms: ['RS256'] });
}
