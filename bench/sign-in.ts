import { createHash, randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import { Browser, CookieJar, findForm, type Page } from '../test/support/browser.js';
import type { HttpClient } from './load.js';

export const REDIRECT_URI = 'http://127.0.0.1:8765/callback';

/**
 * A refresh token obtained the way an app gets one: authorization code + PKCE
 * through the real login and consent pages (the end-to-end tests' browser).
 */
export async function signInForRefreshToken(
  config: oidc.Configuration,
  input: { email: string; password: string; resource: string },
): Promise<string> {
  // On a starved machine the argon2 queue refuses a sign-in it cannot start
  // within 1 s: 503 with Retry-After (src/accounts/passwords.ts). A client
  // waits that long and signs in again, and so does the benchmark's set-up.
  for (let attempt = 1; ; attempt += 1) {
    const outcome = await signInOnce(config, input);
    if (typeof outcome === 'string') return outcome;
    if (outcome.status !== 503 || attempt === MAX_ATTEMPTS) throw new Error(`sign-in failed: ${outcome.status} (attempt ${attempt})`);
    await new Promise((resolve) => setTimeout(resolve, outcome.retryAfterSeconds * 1000));
  }
}

const MAX_ATTEMPTS = 5;

async function signInOnce(
  config: oidc.Configuration,
  input: { email: string; password: string; resource: string },
): Promise<string | { status: number; retryAfterSeconds: number }> {
  const browser = new Browser();
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid offline_access',
    prompt: 'consent',
    resource: input.resource,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  let page = await browser.open(url.toString(), { stopAt: REDIRECT_URI });
  if (page.html.includes('/login"'))
    page = await browser.submit(page, '/login', { email: input.email, password: input.password }, { stopAt: REDIRECT_URI });
  if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
  if (!page.url.startsWith(REDIRECT_URI)) return { status: page.status, retryAfterSeconds: Number(page.headers.get('retry-after')) || 1 };
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: verifier }, { resource: input.resource });
  if (!tokens.refresh_token) throw new Error('no refresh token');
  return tokens.refresh_token;
}

/**
 * One password login the way a person's browser does it: the authorization
 * request, the login page (its CSRF token), the form posted (argon2id verify,
 * session written), and the redirects back to the app with a code. A
 * first-party client, so no consent page: what is measured is the login.
 * Sent with node:http and a cookie jar rather than `fetch`, which took ~6 ms
 * of the shared machine's CPU per login (`docs/performance.md`, "Logins
 * (sixth round)"): the same four requests, cookies and form fields.
 */
export async function signInThroughForm(http: HttpClient, input: { clientId: string; email: string; password: string }): Promise<boolean> {
  const cookies = new CookieJar();
  const verifier = randomBytes(32).toString('base64url');
  const query = new URLSearchParams({
    client_id: input.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  const login = await followToPage(http, cookies, `/auth?${query}`);
  if (login.status !== 200 || !login.html.includes('/login"')) return false;
  const form = findForm(login, '/login');
  const fields = Object.fromEntries(form.entries);
  const done = await followToPage(http, cookies, new URL(form.action, login.url), {
    ...fields,
    email: input.email,
    password: input.password,
  });
  return done.url.startsWith(REDIRECT_URI) && new URL(done.url).searchParams.has('code');
}

/** Requests `target` (a form posted when `form` is given), following redirects until a page or one to the app's redirect URI. */
async function followToPage(
  http: HttpClient,
  cookies: CookieJar,
  target: string | URL,
  form?: Record<string, string>,
): Promise<Pick<Page, 'url' | 'status' | 'html'>> {
  let url = new URL(target, http.baseUrl);
  for (let hops = 0; hops < 20; hops += 1) {
    const cookie = cookies.header();
    const headers: Record<string, string> = cookie ? { cookie } : {};
    const path = `${url.pathname}${url.search}`;
    const answer = hops === 0 && form ? await http.postForm(path, form, headers) : await http.get(path, headers);
    for (const line of answer.headers['set-cookie'] ?? []) cookies.store(line);
    const location = answer.headers.location;
    if (answer.status < 300 || answer.status >= 400 || !location) return { url: url.toString(), status: answer.status, html: answer.body };
    url = new URL(location, url);
    if (url.toString().startsWith(REDIRECT_URI)) return { url: url.toString(), status: answer.status, html: '' };
  }
  throw new Error(`too many redirects from ${target}`);
}
