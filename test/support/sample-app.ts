import * as oidc from 'openid-client';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser, type Page } from './browser.js';
import { createTestDatabase, dropTestDatabase } from './database.js';
import { startTestGatehouse, type TestGatehouse } from './gatehouse.js';

export const REDIRECT_URI = 'http://127.0.0.1:8765/callback';
export const API = 'https://api.example.test/';
export const PASSWORD = 'correct horse battery staple';

/** A registered confidential app, a user and an API, as the README's walk-through makes them. */
export async function registerSampleApp(gatehouse: TestGatehouse, email = 'ada@example.test') {
  const api =
    (await gatehouse.resources.findResourceByIdentifier(API)) ??
    (await gatehouse.resources.createResource({
      identifier: API,
      name: 'Items API',
      scopes: [{ name: 'items:read', description: 'Read your items' }, 'items:write'],
    }));
  const client = await gatehouse.clients.registerClient({
    client_name: 'Sample App',
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: ['http://127.0.0.1:8765/signed-out'],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email roles offline_access',
    api_access: [{ resource: API, scopes: ['items:read', 'items:write'] }],
  });
  if (!(await gatehouse.roles.findRole('engineer'))) await gatehouse.roles.createRole({ name: 'engineer' });
  const user = await gatehouse.users.createUser({
    email,
    password: PASSWORD,
    name: 'Ada Lovelace',
    roles: ['engineer'],
    emailVerified: true,
  });
  return { client, user, api };
}

/** openid-client configured from discovery, as a real app would be. */
export async function discover(gatehouse: TestGatehouse, client: RegisteredClient): Promise<oidc.Configuration> {
  const auth = client.client_secret ? oidc.ClientSecretBasic(client.client_secret) : oidc.None();
  return oidc.discovery(new URL(gatehouse.issuer), client.client_id, {}, auth, { execute: [oidc.allowInsecureRequests] });
}

/**
 * RFC 7636 Appendix B's code_verifier, whose S256 code_challenge is
 * `E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM`: for a request that should be
 * the same on every run.
 */
export const RFC7636_EXAMPLE_CODE_VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

/**
 * Whom an authorization request is for: an app configured by openid-client
 * (from discovery), or a client_id whose request is written by hand to the
 * issuer's authorization endpoint (`ISSUER/auth`).
 */
export type AuthorizationRequestClient = oidc.Configuration | { readonly issuer: string; readonly clientId: string };

/** Authorization request parameters besides the PKCE ones: scope, and any of state, nonce, prompt, resource, redirect_uri... */
export type AuthorizationParameters = { readonly scope: string } & Readonly<Record<string, string>>;

export interface AuthorizationRequestWithPkce {
  /** The authorization endpoint's URL, every parameter in its query. */
  readonly url: string;
  /** The code_verifier the code is redeemed with at the token endpoint (RFC 7636 §4.5). */
  readonly codeVerifier: string;
}

/**
 * An authorization-code request with PKCE (RFC 7636 §4.1-4.3, code_challenge_method=S256)
 * for `client`: response_type=code, redirect_uri REDIRECT_URI unless `parameters` names
 * another, `parameters`, and the S256 code_challenge of `codeVerifier` (a random one unless given).
 */
export async function authorizationRequestWithPkce(
  client: AuthorizationRequestClient,
  parameters: AuthorizationParameters,
  codeVerifier: string = oidc.randomPKCECodeVerifier(),
): Promise<AuthorizationRequestWithPkce> {
  const withPkce: Record<string, string> = {
    redirect_uri: REDIRECT_URI,
    ...parameters,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  };
  if (client instanceof oidc.Configuration) return { url: oidc.buildAuthorizationUrl(client, withPkce).toString(), codeVerifier };
  const url = new URL(`${client.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: client.clientId, response_type: 'code', ...withPkce }).toString();
  return { url: url.toString(), codeVerifier };
}

export interface SignInOptions {
  readonly scope?: string;
  readonly resource?: string;
  readonly prompt?: string;
  readonly email?: string;
  readonly password?: string;
  readonly browser?: Browser;
  /** The second-factor code to enter when the code page comes (computed when it does). */
  readonly code?: () => Promise<string>;
  /** More authorization request parameters (acr_values, max_age...). */
  readonly extra?: Record<string, string>;
}

/** The authorization-code + PKCE flow through the real login and consent pages. */
export async function signIn(config: oidc.Configuration, options: SignInOptions = {}) {
  const browser = options.browser ?? new Browser();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const { url, codeVerifier } = await authorizationRequestWithPkce(config, {
    scope: options.scope ?? 'openid email profile',
    state,
    nonce,
    ...(options.resource ? { resource: options.resource } : {}),
    ...(options.prompt ? { prompt: options.prompt } : {}),
    ...options.extra,
  });

  let page: Page = await browser.open(url, { stopAt: REDIRECT_URI });
  if (page.html.includes('/login"')) {
    page = await browser.submit(
      page,
      '/login',
      { email: options.email ?? 'ada@example.test', password: options.password ?? PASSWORD },
      { stopAt: REDIRECT_URI },
    );
  }
  if (page.html.includes('/mfa"') && options.code) {
    page = await browser.submit(page, '/mfa', { code: await options.code() }, { stopAt: REDIRECT_URI });
  }
  if (page.html.includes('/confirm"')) {
    page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
  }
  if (!page.url.startsWith(REDIRECT_URI)) throw new Error(`sign-in did not return to the app: ${page.status} ${page.html.slice(0, 500)}`);
  const tokens = await oidc.authorizationCodeGrant(
    config,
    new URL(page.url),
    { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce },
    options.resource ? { resource: options.resource } : undefined,
  );
  return { tokens, browser, callbackUrl: page.url, nonce };
}

/**
 * What most end-to-end files start with: a database of their own, a running
 * Gatehouse on it, the sample app registered and openid-client configured.
 */
export async function startWithSampleApp(environment: Record<string, string> = {}) {
  const databaseUrl = await createTestDatabase();
  const gatehouse = await startTestGatehouse(databaseUrl, environment);
  const sample = await registerSampleApp(gatehouse);
  return { databaseUrl, gatehouse, sample, config: await discover(gatehouse, sample.client) };
}

/** Stops the server (if it started) and drops its database. */
export async function stopAndDrop(gatehouse: TestGatehouse | undefined, databaseUrl: string | undefined): Promise<void> {
  await gatehouse?.stop();
  if (databaseUrl) await dropTestDatabase(databaseUrl);
}
