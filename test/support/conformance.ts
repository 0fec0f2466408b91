import { createPublicKey, type JsonWebKey } from 'node:crypto';
import * as oidc from 'openid-client';
import { expect } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser, type Page } from './browser.js';
import type { TestGatehouse } from './gatehouse.js';
import { PASSWORD } from './sample-app.js';

/**
 * Black-box helpers for the conformance tests: raw HTTP the way the OpenID
 * conformance suite speaks to an OP, without a client library smoothing
 * anything over.
 */
export interface AuthorizationOutcome {
  /** The redirect back to the client, when there was one. */
  readonly callback?: URL;
  /** The page shown instead (an error page), when there was no redirect. */
  readonly page?: Page;
  readonly browser: Browser;
}

/** A PKCE pair (RFC 7636, S256). */
export async function pkcePair() {
  const verifier = oidc.randomPKCECodeVerifier();
  return { verifier, challenge: await oidc.calculatePKCECodeChallenge(verifier) };
}

/**
 * Sends an authorization request (GET, or POST as a form) and goes through
 * the login and consent pages as the user; stops at the redirect back to
 * `redirectUri`, or at a page that is neither login nor consent.
 */
export async function authorize(
  gatehouse: TestGatehouse,
  parameters: Record<string, string>,
  options: { browser?: Browser; redirectUri?: string; method?: 'GET' | 'POST'; email?: string; consent?: boolean } = {},
): Promise<AuthorizationOutcome> {
  const browser = options.browser ?? new Browser();
  const stopAt = options.redirectUri ?? parameters.redirect_uri ?? 'http://127.0.0.1:8765/callback';
  const url = new URL(`${gatehouse.issuer}/auth`);
  let page: Page;
  if (options.method === 'POST') {
    page = await browser.open(url.toString(), {
      stopAt,
      init: { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(parameters) },
    });
  } else {
    url.search = new URLSearchParams(parameters).toString();
    page = await browser.open(url.toString(), { stopAt });
  }
  if (page.html.includes('/login"'))
    page = await browser.submit(page, '/login', { email: options.email ?? 'ada@example.test', password: PASSWORD }, { stopAt });
  if (page.html.includes('/confirm"') && options.consent !== false) page = await browser.submit(page, '/confirm', {}, { stopAt });
  return page.url.startsWith(stopAt) && !page.html ? { callback: new URL(page.url), browser } : { page, browser };
}

/** A code-flow request with PKCE, for `client`, with the given extra parameters. */
export async function codeRequest(
  client: RegisteredClient,
  extra: Record<string, string> = {},
  redirectUri = 'http://127.0.0.1:8765/callback',
) {
  const { verifier, challenge } = await pkcePair();
  const parameters: Record<string, string> = {
    client_id: client.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  return { parameters, verifier };
}

export type ClientAuth = 'basic' | 'post' | 'none';

/** POSTs a form to a Gatehouse endpoint, authenticating as `client` the given way. */
export async function postAs(
  url: string,
  client: RegisteredClient | undefined,
  fields: Record<string, string>,
  auth: ClientAuth = 'basic',
): Promise<Response> {
  const body = new URLSearchParams(fields);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (client && auth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret ?? '')}`).toString('base64')}`;
  } else if (client && auth === 'post') {
    body.set('client_id', client.client_id);
    body.set('client_secret', client.client_secret ?? '');
  } else if (client) {
    body.set('client_id', client.client_id);
  }
  return fetch(url, { method: 'POST', headers, body });
}

export interface TokenResponse {
  readonly access_token?: string;
  readonly id_token?: string;
  readonly refresh_token?: string;
  readonly token_type?: string;
  readonly error?: string;
  readonly error_description?: string;
}

/** Exchanges the code in `callback` at the token endpoint. */
export async function exchangeCode(
  gatehouse: TestGatehouse,
  client: RegisteredClient,
  callback: URL,
  verifier: string | undefined,
  options: { auth?: ClientAuth; redirectUri?: string } = {},
): Promise<{ status: number; headers: Headers; body: TokenResponse }> {
  const fields: Record<string, string> = {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code') ?? '',
    redirect_uri: options.redirectUri ?? 'http://127.0.0.1:8765/callback',
  };
  if (verifier) fields.code_verifier = verifier;
  const response = await postAs(`${gatehouse.issuer}/token`, client, fields, options.auth ?? (client.client_secret ? 'basic' : 'none'));
  return { status: response.status, headers: response.headers, body: (await response.json()) as TokenResponse };
}

/** A full sign-in to tokens: authorize, then exchange. */
export async function signInForTokens(
  gatehouse: TestGatehouse,
  client: RegisteredClient,
  extra: Record<string, string> = {},
  options: { auth?: ClientAuth; browser?: Browser } = {},
) {
  const { parameters, verifier } = await codeRequest(client, extra);
  const outcome = await authorize(gatehouse, parameters, { browser: options.browser });
  if (!outcome.callback?.searchParams.get('code')) throw new Error(`no code: ${outcome.callback ?? outcome.page?.html.slice(0, 300)}`);
  const exchanged = await exchangeCode(gatehouse, client, outcome.callback, verifier, { auth: options.auth });
  if (exchanged.status !== 200) throw new Error(`token endpoint: ${JSON.stringify(exchanged.body)}`);
  return { ...exchanged, parameters, callback: outcome.callback, browser: outcome.browser };
}

/** The claims of a JWT, unverified (verification is asserted separately, with jose). */
export function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * Checks a discovery document the way the conformance suite's
 * oidcc-discovery-endpoint-verification does (OIDC Discovery 1.0 §3, §4.3).
 * Shared with the Dynamic plan's copy of the module.
 */
export async function verifyDiscovery(issuer: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const metadata = (await response.json()) as Record<string, unknown>;
  // §4.3: the issuer is exactly the one the document was fetched for.
  expect(metadata.issuer).toBe(issuer);
  for (const endpoint of [
    'authorization_endpoint',
    'token_endpoint',
    'userinfo_endpoint',
    'jwks_uri',
    'end_session_endpoint',
    'revocation_endpoint',
    'introspection_endpoint',
  ]) {
    expect(String(metadata[endpoint]).startsWith(`${issuer}/`), endpoint).toBe(true);
  }
  expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid']));
  expect(metadata.response_types_supported).toEqual(['code']);
  expect(metadata.subject_types_supported).toEqual(['public']);
  expect(metadata.id_token_signing_alg_values_supported).toEqual(['RS256']);
  expect(metadata.claims_parameter_supported).toBe(false);
  expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  expect(metadata.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));

  // The JWKS: public signing keys only, each with a distinct kid, each usable.
  const jwks = (await (await fetch(String(metadata.jwks_uri))).json()) as { keys: (JsonWebKey & { kid?: string; use?: string })[] };
  expect(jwks.keys.length).toBeGreaterThan(0);
  expect(new Set(jwks.keys.map((key) => key.kid)).size).toBe(jwks.keys.length);
  for (const key of jwks.keys) {
    expect(key).toMatchObject({ kty: 'RSA', use: 'sig', kid: expect.any(String) });
    expect(key).not.toHaveProperty('d');
    expect(() => createPublicKey({ key, format: 'jwk' })).not.toThrow();
  }
  return metadata;
}
