import { randomUUID } from 'node:crypto';
import { SignJWT, importJWK, type JWK } from 'jose';
import type { RegisteredClient } from '../../src/clients/clients.js';
import type { TestGatehouse } from './gatehouse.js';
import { discover, REDIRECT_URI, signIn } from './sample-app.js';

const consoles = new WeakMap<TestGatehouse, RegisteredClient>();

export const ADMIN_SCOPES = [
  'admin',
  ...['clients', 'users', 'resources', 'keys'].flatMap((area) => [`admin:${area}:read`, `admin:${area}:write`]),
  'admin:events:read',
].join(' ');

/** An admin-API token the way a person gets one: the code flow with resource `${issuer}/admin`. */
export async function adminTokenForUser(gatehouse: TestGatehouse, email: string, password: string, scope = 'admin'): Promise<string> {
  let client = consoles.get(gatehouse);
  if (!client) {
    // A client gets admin scopes only when it is granted them.
    client = await gatehouse.clients.registerClient({
      client_name: 'Admin console',
      redirect_uris: [REDIRECT_URI],
      scope: 'openid',
      api_access: [{ resource: `${gatehouse.issuer}/admin`, scopes: ADMIN_SCOPES.split(' ') }],
    });
    consoles.set(gatehouse, client);
  }
  const { tokens } = await signIn(await discover(gatehouse, client), {
    scope: `openid ${scope}`,
    resource: `${gatehouse.issuer}/admin`,
    prompt: 'consent',
    email,
    password,
  });
  return tokens.access_token;
}

/** Signs a JWT with the server's own current key: for tokens the server would never issue (expired, wrong audience...). */
export async function forgeWithServerKey(gatehouse: TestGatehouse, claims: Record<string, unknown>): Promise<string> {
  const { keys } = await gatehouse.keys.load();
  const jwk = keys[0] as JWK;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: gatehouse.issuer, aud: `${gatehouse.issuer}/admin`, iat: now, exp: now + 600, jti: randomUUID(), ...claims })
    .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jwk.kid })
    .sign(await importJWK(jwk, 'RS256'));
}

/** A small JSON client for /admin. */
export function adminClient(gatehouse: TestGatehouse, token: string | undefined) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${gatehouse.url}/admin${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
}

/** An admin-API token the way a service gets one: client credentials (RFC 6749 §4.4). */
export async function adminTokenForClient(gatehouse: TestGatehouse, clientId: string, secret: string, scope?: string): Promise<string> {
  const response = await fetch(`${gatehouse.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }),
  });
  const body = (await response.json()) as { access_token?: string; error?: string };
  if (!body.access_token) throw new Error(`no admin token: ${JSON.stringify(body)}`);
  return body.access_token;
}
