/**
 * A tiny relying party that signs a user in with Gatehouse: authorization
 * code + PKCE (S256), state and nonce, then the ID token's claims and the
 * userinfo response. node:http and openid-client only, no framework.
 *
 *   npm run -s example:app -- <client_id> <client_secret> [issuer=http://localhost:3000]
 *
 * The client must be registered with the redirect URI http://localhost:8080/callback
 * (and http://localhost:8080/ as a post-logout redirect URI for "Sign out").
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import * as oidc from 'openid-client';

const PORT = 8080;
const APP_URL = `http://localhost:${PORT}`;
const REDIRECT_URI = `${APP_URL}/callback`;
const POST_LOGOUT_REDIRECT_URI = `${APP_URL}/`;
const SCOPE = 'openid email profile offline_access';
const COOKIE = 'sample_app_session';
// A sign-in that has not come back within this time is forgotten.
const PENDING_TTL_MS = 10 * 60 * 1000;

const [clientId, clientSecret, issuerArgument = 'http://localhost:3000'] = process.argv.slice(2);
if (!clientId || !clientSecret) {
  console.error('usage: npm run -s example:app -- <client_id> <client_secret> [issuer=http://localhost:3000]');
  process.exit(2);
}
const issuer = new URL(issuerArgument);

/** What the app remembers per browser, keyed by a random cookie value. */
interface BrowserSession {
  /** Set between /login and /callback. */
  pending?: { codeVerifier: string; state: string; nonce: string; startedAt: number };
  /** Kept after sign-in as the id_token_hint for RP-initiated logout. */
  idToken?: string;
}
const sessions = new Map<string, BrowserSession>();

// Discovery, and client_secret_basic (Gatehouse's default for confidential
// clients). Plain http is allowed only when the issuer itself is http (local
// development); openid-client refuses it otherwise.
let config: oidc.Configuration;
try {
  config = await oidc.discovery(
    issuer,
    clientId,
    undefined,
    oidc.ClientSecretBasic(clientSecret),
    issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
  );
} catch (error) {
  console.error(`sample-app: discovery at ${issuerArgument} failed: ${(error as Error).message}. Is Gatehouse running?`);
  process.exit(1);
}

const server = createServer((req, res) => {
  route(req, res).catch((error: unknown) => {
    console.error(error);
    if (!res.headersSent) page(res, 500, 'Error', `<p>${escapeHtml(describeError(error))}</p><p><a href="/">Back</a></p>`);
  });
});
server.listen(PORT, 'localhost', () => {
  console.log(`sample app on ${APP_URL} (issuer ${issuerArgument}, client ${clientId})`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // browsers keep idle connections open
  });
}

async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', APP_URL);
  if (req.method !== 'GET') return page(res, 405, 'Method not allowed', '<p>Only GET is supported.</p>');
  switch (url.pathname) {
    case '/':
      return home(req, res);
    case '/login':
      return login(req, res);
    case '/callback':
      return callback(req, res, url);
    case '/logout':
      return logout(req, res);
    default:
      return page(res, 404, 'Not found', '<p><a href="/">Home</a></p>');
  }
}

function home(req: IncomingMessage, res: ServerResponse): void {
  const signedIn = Boolean(currentSession(req)?.idToken);
  page(
    res,
    200,
    'Sample App',
    `<p>A relying party for the Gatehouse at <code>${escapeHtml(issuerArgument)}</code>.</p>
<p><a href="/login">Sign in</a>${signedIn ? ' &middot; <a href="/logout">Sign out</a>' : ''}</p>`,
  );
}

/** Starts the authorization code flow (RFC 6749 §4.1) with PKCE (RFC 7636). */
async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
  forgetStalePendingSignIns();
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const session = sessionFor(req, res);
  session.pending = { codeVerifier, state, nonce, startedAt: Date.now() };

  const authorizationUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    // OpenID Connect Core §11: offline_access is ignored unless prompt=consent.
    prompt: 'consent',
  });
  res.writeHead(302, { location: authorizationUrl.href, 'cache-control': 'no-store' }).end();
}

/** Redeems the code, checks state, nonce and the ID token, then calls userinfo. */
async function callback(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const session = currentSession(req);
  const pending = session?.pending;
  if (!session || !pending) {
    return page(res, 400, 'No sign-in in progress', '<p>This browser did not start a sign-in here. <a href="/login">Sign in</a></p>');
  }
  delete session.pending;

  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
  try {
    tokens = await oidc.authorizationCodeGrant(config, url, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
  } catch (error) {
    return page(res, 400, 'Sign-in failed', `<p>${escapeHtml(describeError(error))}</p><p><a href="/">Back</a></p>`);
  }

  const claims = tokens.claims();
  if (!claims) throw new Error('the token response has no ID token');
  session.idToken = tokens.id_token;
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);

  const tokenSummary = {
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expiresIn(),
    access_token: truncate(tokens.access_token),
    id_token: truncate(tokens.id_token),
    refresh_token: tokens.refresh_token ? truncate(tokens.refresh_token) : '(none issued)',
  };
  page(
    res,
    200,
    'Signed in',
    `<p>Signed in as <strong>${escapeHtml(String(userinfo.email ?? claims.sub))}</strong>.
A refresh token was ${tokens.refresh_token ? '' : '<strong>not</strong> '}issued.</p>
<h2>ID token claims</h2>
<pre>${escapeHtml(JSON.stringify(claims, null, 2))}</pre>
<h2>Userinfo response</h2>
<pre>${escapeHtml(JSON.stringify(userinfo, null, 2))}</pre>
<h2>Token response (values truncated)</h2>
<pre>${escapeHtml(JSON.stringify(tokenSummary, null, 2))}</pre>
<p><a href="/">Home</a> &middot; <a href="/logout">Sign out</a></p>`,
  );
}

/** RP-initiated logout: Gatehouse asks the user to confirm, then comes back to /. */
function logout(req: IncomingMessage, res: ServerResponse): void {
  const cookie = readCookie(req);
  const idToken = cookie ? sessions.get(cookie)?.idToken : undefined;
  if (cookie) sessions.delete(cookie);
  const parameters: Record<string, string> = { post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI };
  if (idToken) parameters.id_token_hint = idToken;
  res.writeHead(302, { location: oidc.buildEndSessionUrl(config, parameters).href, 'set-cookie': `${COOKIE}=; Path=/; Max-Age=0` }).end();
}

function currentSession(req: IncomingMessage): BrowserSession | undefined {
  const id = readCookie(req);
  return id ? sessions.get(id) : undefined;
}

function sessionFor(req: IncomingMessage, res: ServerResponse): BrowserSession {
  const existing = currentSession(req);
  if (existing) return existing;
  const id = randomBytes(32).toString('base64url');
  const session: BrowserSession = {};
  sessions.set(id, session);
  // Lax so the cookie comes along on the top-level redirect back from Gatehouse.
  res.setHeader('set-cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
  return session;
}

function readCookie(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return undefined;
}

function forgetStalePendingSignIns(): void {
  const cutoff = Date.now() - PENDING_TTL_MS;
  for (const [id, session] of sessions) {
    if (session.pending && session.pending.startedAt < cutoff) {
      delete session.pending;
      if (!session.idToken) sessions.delete(id);
    }
  }
}

/** Tokens are credentials: show only their start and length. */
function truncate(token: string | undefined): string {
  return token ? `${token.slice(0, 12)}... (${token.length} characters)` : '(none)';
}

function describeError(error: unknown): string {
  if (error instanceof oidc.AuthorizationResponseError || error instanceof oidc.ResponseBodyError) {
    return `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;overflow:auto}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
