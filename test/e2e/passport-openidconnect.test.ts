import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { adminClient, adminTokenForUser } from '../support/admin.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { PASSWORD, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

// passport-openidconnect is CommonJS without types: its strategy is driven
// exactly as passport.authenticate() drives any strategy (an object created
// from it, given redirect/success/fail/error, then authenticate(req)).
const require = createRequire(import.meta.url);
const { Strategy } = require('passport-openidconnect') as {
  Strategy: new (options: Record<string, unknown>, verify: unknown) => PassportStrategy;
};

interface PassportStrategy {
  authenticate(req: PassportRequest, options?: Record<string, unknown>): void;
}
interface PassportRequest {
  url: string;
  query: Record<string, string>;
  session: Record<string, unknown>;
  headers: Record<string, string>;
  connection: Record<string, unknown>;
}
type Outcome =
  | { kind: 'redirect'; url: string }
  | { kind: 'success'; user: unknown }
  | { kind: 'fail'; info: unknown }
  | { kind: 'error'; error: Error };

function runStrategy(strategy: PassportStrategy, req: PassportRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    const action = Object.assign(Object.create(strategy) as PassportStrategy, {
      redirect: (url: string) => resolve({ kind: 'redirect', url }),
      success: (user: unknown) => resolve({ kind: 'success', user }),
      fail: (info: unknown) => resolve({ kind: 'fail', info }),
      error: (error: Error) => resolve({ kind: 'error', error }),
      pass: () => resolve({ kind: 'fail', info: 'pass' }),
    });
    action.authenticate(req);
  });
}

const request = (url: string, session: Record<string, unknown>): PassportRequest => ({
  url,
  query: Object.fromEntries(new URL(url, 'http://127.0.0.1:8765').searchParams),
  session,
  headers: { host: '127.0.0.1:8765' },
  connection: {},
});

/** passport-openidconnect's documented setup: a confidential client, no PKCE, client_secret_post. */
describe('passport-openidconnect', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let client: RegisteredClient;

  const strategyFor = (options: Record<string, unknown> = {}) =>
    new Strategy(
      {
        issuer: gatehouse.issuer,
        authorizationURL: `${gatehouse.issuer}/auth`,
        tokenURL: `${gatehouse.issuer}/token`,
        userInfoURL: `${gatehouse.issuer}/me`,
        clientID: client.client_id,
        clientSecret: client.client_secret,
        callbackURL: REDIRECT_URI,
        scope: ['profile', 'email'],
        ...options,
      },
      (_issuer: unknown, profile: unknown, done: (error: null, user: unknown) => void) => done(null, profile),
    );

  /** Login link → Gatehouse's pages → callback, as a person's browser would go. */
  const signInThroughPassport = async (strategy: PassportStrategy) => {
    const session: Record<string, unknown> = {};
    const start = await runStrategy(strategy, request('/login', session));
    if (start.kind !== 'redirect') throw new Error(`expected a redirect, got ${start.kind}`);
    const browser = new Browser();
    let page = await browser.open(start.url, { stopAt: REDIRECT_URI });
    if (page.html.includes('/login"'))
      page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD }, { stopAt: REDIRECT_URI });
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
    expect(page.url.startsWith(REDIRECT_URI), page.html.slice(0, 300)).toBe(true);
    return runStrategy(strategy, request(page.url.slice('http://127.0.0.1:8765'.length), session));
  };

  beforeAll(async () => {
    ({ gatehouse, databaseUrl } = await startWithSampleApp());
    await gatehouse.users.createUser({ email: 'root@example.test', password: PASSWORD, roles: ['admin'], emailVerified: true });
    client = await gatehouse.clients.registerClient({
      client_name: 'Express App',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'client_secret_post',
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('is refused "PKCE required" until the client is registered with require_pkce: false', async () => {
    const outcome = await signInThroughPassport(strategyFor({ nonce: true })).catch((error: Error) => ({ kind: 'thrown', error }));
    // Gatehouse redirects back with the error; the strategy reports it.
    expect(outcome).toMatchObject({ kind: 'error', error: { code: 'invalid_request', message: expect.stringContaining('PKCE') } });
  });

  it('signs in once the admin API turns PKCE off for this confidential client', async () => {
    const admin = adminClient(
      gatehouse,
      await adminTokenForUser(gatehouse, 'root@example.test', PASSWORD, 'admin:clients:write admin:clients:read'),
    );
    for (const bad of [
      { require_pkce: 'no' },
      { first_party: 1 },
      { backchannel_logout_uri: 'javascript:alert(1)' },
      { dpop_bound_access_tokens: 'true' }, // a string, not a boolean (null would remove the field: RFC 7396)
    ]) {
      const refused = await admin('PATCH', `/clients/${client.client_id}`, bad);
      expect(refused.status, JSON.stringify(bad)).toBe(400);
      expect(refused.body).toMatchObject({ error: 'invalid_client_metadata' });
    }
    const patched = await admin('PATCH', `/clients/${client.client_id}`, { require_pkce: false });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ require_pkce: false });
    const outcome = await signInThroughPassport(strategyFor({ nonce: true }));
    expect(outcome).toMatchObject({ kind: 'success', user: { emails: [{ value: 'ada@example.test' }] } });
  });

  it('still requires a nonce from such a client (RFC 9700 §2.1.1)', async () => {
    const outcome = await signInThroughPassport(strategyFor());
    expect(outcome).toMatchObject({ kind: 'error', error: { code: 'invalid_request', message: expect.stringContaining('nonce') } });
  });

  it('refuses require_pkce: false for a public client', async () => {
    await expect(
      gatehouse.clients.registerClient({
        client_name: 'SPA',
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        require_pkce: false,
      }),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_client_metadata', description: expect.stringContaining('confidential') });
  });
});
