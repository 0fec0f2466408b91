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
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const parameters: Record<string, string> = {
    redirect_uri: REDIRECT_URI,
    scope: options.scope ?? 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  if (options.resource) parameters.resource = options.resource;
  if (options.prompt) parameters.prompt = options.prompt;
  Object.assign(parameters, options.extra);

  let page: Page = await browser.open(oidc.buildAuthorizationUrl(config, parameters).toString(), { stopAt: REDIRECT_URI });
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
