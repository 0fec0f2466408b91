import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { currentRequest } from '../../src/log.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { isConnectionSetUp } from '../support/statements-sent.js';
import { Browser } from '../support/browser.js';
import { approveOnPages, DEVICE_GRANT, registerDeviceApp } from '../support/device.js';
import {
  API,
  authorizationRequestWithPkce,
  PASSWORD,
  REDIRECT_URI,
  RFC7636_EXAMPLE_CODE_VERIFIER,
  signIn,
  startWithSampleApp,
  stopAndDrop,
  type registerSampleApp,
} from '../support/sample-app.js';

/**
 * What one refresh, one code exchange and one device code redemption cost the database, counted (never timed): every statement
 * sent to Postgres while the request runs, transactions' BEGIN and COMMIT
 * included. The pg client's query method is only observed, not replaced.
 * A change that adds a round trip to the hot path fails here.
 */
describe('the database work of a refresh-token grant, a code exchange and a device code redemption', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: Awaited<ReturnType<typeof startWithSampleApp>>['config'];
  const statements = new Map<string, string[]>();
  const statementNames = new Map<string, (string | undefined)[]>();
  /** Statements sent through Prisma's query engine, whose pg adapter asks for rows as arrays. */
  const viaPrisma = new Map<string, string[]>();

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, sample, config } = await startWithSampleApp());
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const requestId = currentRequest()?.requestId;
      const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? '');
      if (requestId?.startsWith('counted-') && !isConnectionSetUp(text)) {
        statements.set(requestId, [...(statements.get(requestId) ?? []), text.replace(/\s+/g, ' ')]);
        const name = typeof args[0] === 'object' ? (args[0] as { name?: string } | undefined)?.name : undefined;
        statementNames.set(requestId, [...(statementNames.get(requestId) ?? []), name]);
        if (typeof args[0] === 'object' && (args[0] as { rowMode?: string } | undefined)?.rowMode === 'array')
          viaPrisma.set(requestId, [...(viaPrisma.get(requestId) ?? []), text]);
      }
      return (query as (...all: unknown[]) => unknown).apply(this, args);
    } as typeof pg.Client.prototype.query);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await stopAndDrop(gatehouse, databaseUrl);
  });

  /** The sample app's refresh-token request, as sent; `refresh` below expects it to succeed. */
  function postRefresh(refreshToken: string, requestId: string, resource?: string): Promise<Response> {
    const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, ...(resource ? { resource } : {}) });
    const basic = Buffer.from(`${sample.client.client_id}:${sample.client.client_secret}`).toString('base64');
    return fetch(`${gatehouse.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}`, 'x-request-id': requestId },
      body,
    });
  }

  async function refresh(refreshToken: string, requestId: string, resource?: string) {
    const response = await postRefresh(refreshToken, requestId, resource);
    expect(response.status).toBe(200);
    return (await response.json()) as { refresh_token: string };
  }

  /** A code for the sample app, signed in through the pages as `email` (PKCE: RFC 7636 Appendix B's pair). */
  async function codeFor(email: string): Promise<string> {
    const browser = new Browser();
    const { url } = await authorizationRequestWithPkce(
      { issuer: gatehouse.issuer, clientId: sample.client.client_id },
      { scope: 'openid offline_access', prompt: 'consent', resource: API },
      RFC7636_EXAMPLE_CODE_VERIFIER,
    );
    let page = await browser.open(url, { stopAt: REDIRECT_URI });
    page = await browser.submit(page, '/login', { email, password: PASSWORD }, { stopAt: REDIRECT_URI });
    if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
    const code = new URL(page.url).searchParams.get('code') ?? '';
    expect(code).not.toBe('');
    return code;
  }

  /** The sample app's code exchange, as sent. */
  function exchange(code: string, requestId: string): Promise<Response> {
    const basic = Buffer.from(`${sample.client.client_id}:${sample.client.client_secret}`).toString('base64');
    return fetch(`${gatehouse.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}`, 'x-request-id': requestId },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: RFC7636_EXAMPLE_CODE_VERIFIER,
        resource: API,
      }),
    });
  }

  /** The statement that reads a refresh token, a code or a device code with its grant and its user. */
  const WITH_GRANT_AND_USER = /FROM oidc_payloads t LEFT JOIN oidc_payloads g ON g.model = 'Grant'/;

  /** A user changed in the database alone: the users module would also end the user's grants and tokens. */
  const GONE_USER_CHANGES = [
    ['disabled', 'UPDATE users SET disabled = true WHERE id = $1::uuid'],
    ['deleted', 'DELETE FROM users WHERE id = $1::uuid'],
  ] as const;

  /** `response` to request `requestId` refused with invalid_grant, the user read only in the token's own statement (no lookup of its own). */
  async function expectRefusedWithUserReadWithToken(response: Response, requestId: string) {
    expect(response.status, requestId).toBe(400);
    // RFC 6749 §5.2 (RFC 8628 §3.5 for a device code); the engine does not say why.
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
    expect(statements.get(requestId)?.filter((text) => /FROM users u/.test(text))).toEqual([expect.stringMatching(WITH_GRANT_AND_USER)]);
  }

  it('exchanges a code in 3 statements: the code with its grant and its user, the consume, the refresh token', async () => {
    const response = await exchange(await codeFor('ada@example.test'), 'counted-exchange');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String) });
    const sent = statements.get('counted-exchange') ?? [];
    expect(sent, sent.join('\n')).toHaveLength(3);
    expect(sent[0]).toMatch(WITH_GRANT_AND_USER);
    expect(sent[0]).toMatch(/FROM users u/);
    expect(sent[1]).toMatch(/^ ?UPDATE oidc_payloads SET consumed_at = now\(\)/);
    expect(sent[2]).toMatch(/^ ?INSERT INTO oidc_payloads/);
  });

  it('refuses to exchange the code of a user disabled or deleted in the database after it was issued (read with the code)', async () => {
    for (const [label, change] of GONE_USER_CHANGES) {
      const user = await gatehouse.users.createUser({ email: `${label}-code@example.test`, password: PASSWORD });
      const code = await codeFor(`${label}-code@example.test`);
      await gatehouse.prisma.$executeRawUnsafe(change, user.id);
      await expectRefusedWithUserReadWithToken(await exchange(code, `counted-code-${label}`), `counted-code-${label}`);
    }
  });

  /** A device code for a new device app, approved on the pages by `email` (RFC 8628 §3.1, §3.3); sent by hand for the request-id header. */
  async function approvedDeviceCode(email = 'ada@example.test') {
    const { client } = await registerDeviceApp(gatehouse);
    const started = await fetch(`${gatehouse.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: client.client_id, scope: 'openid offline_access' }),
    });
    const { device_code, user_code, verification_uri } = (await started.json()) as Record<string, string>;
    expect((await approveOnPages(verification_uri as string, user_code as string, { email })).html).toContain('Device connected');
    /** The device's poll of the token endpoint (RFC 8628 §3.4), as request `requestId`. */
    const poll = (requestId: string) =>
      fetch(`${gatehouse.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': requestId },
        body: new URLSearchParams({ grant_type: DEVICE_GRANT, device_code: device_code as string, client_id: client.client_id }),
      });
    return { poll };
  }

  it('redeems an approved device code in 4 statements: the code with its grant and its user, the consume, the two tokens', async () => {
    const { poll } = await approvedDeviceCode();
    const response = await poll('counted-device');
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id_token: expect.any(String), refresh_token: expect.any(String) });
    const sent = statements.get('counted-device') ?? [];
    expect(sent, sent.join('\n')).toHaveLength(4);
    expect(sent[0]).toMatch(WITH_GRANT_AND_USER);
    expect(sent[0]).toMatch(/FROM users u/);
    expect(sent[1]).toMatch(/^ ?UPDATE oidc_payloads SET consumed_at = now\(\)/);
    // The access token (opaque: no resource was asked for) and the refresh token.
    expect(sent.slice(2)).toEqual([
      expect.stringMatching(/^ ?INSERT INTO oidc_payloads/),
      expect.stringMatching(/^ ?INSERT INTO oidc_payloads/),
    ]);
  });

  it('refuses the device code of a user disabled or deleted in the database after approving it (read with the code)', async () => {
    for (const [label, change] of GONE_USER_CHANGES) {
      const user = await gatehouse.users.createUser({ email: `${label}-device@example.test`, password: PASSWORD });
      const { poll } = await approvedDeviceCode(`${label}-device@example.test`);
      await gatehouse.prisma.$executeRawUnsafe(change, user.id);
      await expectRefusedWithUserReadWithToken(await poll(`counted-device-${label}`), `counted-device-${label}`);
    }
  });

  it('reads the token with its grant and its user (with roles) in one statement, and rotates in a second', async () => {
    // The sample app registered the `roles` scope: its access tokens carry the user's roles.
    const { tokens } = await signIn(config, { scope: 'openid roles offline_access', prompt: 'consent', resource: API });
    const first = await refresh(tokens.refresh_token as string, 'counted-first', API);
    await refresh(first.refresh_token, 'counted-second', API);
    for (const requestId of ['counted-first', 'counted-second']) {
      const sent = statements.get(requestId) ?? [];
      expect(sent, sent.join('\n')).toHaveLength(2);
      expect(sent[0]).toMatch(WITH_GRANT_AND_USER); // the refresh token and its grant
      expect(sent[0]).toMatch(/FROM users u/); // its account, the roles in the same statement
      expect(sent[1]).toMatch(/^ ?WITH claimed AS \( UPDATE oidc_payloads/); // consume + successor, one statement
    }
  });

  it('refuses a refresh for a user disabled or deleted in the database behind the token (read in the same statement)', async () => {
    const database = new pg.Client({ connectionString: databaseUrl });
    await database.connect();
    try {
      const disabled = await gatehouse.users.createUser({ email: 'disabled-later@example.test', password: PASSWORD });
      const deleted = await gatehouse.users.createUser({ email: 'deleted-later@example.test', password: PASSWORD });
      const signedIn = async (email: string) =>
        (await signIn(config, { scope: 'openid offline_access', prompt: 'consent', resource: API, email, password: PASSWORD })).tokens;
      // Each token refreshes while its user is there (so client, grant and token are sound), then its successor is tried.
      const disabledTokens = await refresh((await signedIn('disabled-later@example.test')).refresh_token as string, 'disabled-before', API);
      const deletedTokens = await refresh((await signedIn('deleted-later@example.test')).refresh_token as string, 'deleted-before', API);
      // Changed in the database alone: the admin API would also end their tokens, and the token row must be there to test the read.
      await database.query('UPDATE users SET disabled = true WHERE id = $1', [disabled.id]);
      await database.query('DELETE FROM users WHERE id = $1', [deleted.id]);
      for (const [refreshToken, requestId] of [
        [disabledTokens.refresh_token, 'counted-disabled'],
        [deletedTokens.refresh_token, 'counted-deleted'],
      ] as const) {
        await expectRefusedWithUserReadWithToken(await postRefresh(refreshToken, requestId, API), requestId);
      }
    } finally {
      await database.end();
    }
  });

  it('sends each of those statements prepared (named), so Postgres parses and plans them once per connection', async () => {
    const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent', resource: API });
    const first = await refresh(tokens.refresh_token as string, 'counted-named-1', API);
    await refresh(first.refresh_token, 'counted-named-2', API);
    const names = [...(statementNames.get('counted-named-1') ?? []), ...(statementNames.get('counted-named-2') ?? [])];
    expect(names).toHaveLength(4);
    for (const name of names) expect(name).toMatch(/^gatehouse_[0-9a-f]{24}$/);
    // The same text always goes by the same name: the second refresh reuses the first one's statements.
    expect(names.slice(2)).toEqual(names.slice(0, 2));
    expect(new Set(names.slice(0, 2)).size).toBe(2);
  });

  it('answers a retry within the grace window with the same successor, every statement straight through pg', async () => {
    const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent', resource: API });
    const first = await refresh(tokens.refresh_token as string, 'counted-retried', API);
    // The client lost the answer and sends the same token again: it gets the successor it missed.
    const retried = await refresh(tokens.refresh_token as string, 'counted-retry', API);
    expect(retried.refresh_token).toBe(first.refresh_token);
    const sent = statements.get('counted-retry') ?? [];
    expect(
      sent.some((text) => /FROM refresh_token_successors s/.test(text)),
      sent.join('\n'),
    ).toBe(true);
    expect(viaPrisma.get('counted-retried') ?? []).toEqual([]);
    expect(viaPrisma.get('counted-retry') ?? []).toEqual([]);
  });

  it('puts the roles read with the account into the access token, as a separate lookup did', async () => {
    const { tokens } = await signIn(config, { scope: 'openid roles offline_access', prompt: 'consent', resource: API });
    const refreshed = (await refresh(tokens.refresh_token as string, 'counted-roles', API)) as { access_token?: string };
    const claims = JSON.parse(Buffer.from((refreshed.access_token ?? '').split('.')[1] ?? '', 'base64url').toString()) as {
      roles?: unknown;
    };
    expect(claims.roles).toEqual(await gatehouse.roles.roleNamesOf(sample.user.id));
    expect(claims.roles).toEqual(['engineer']);
  });
});
