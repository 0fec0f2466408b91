import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionActivityStore } from '../../src/account/session-activity.js';
import { SYSTEM } from '../../src/audit/events.js';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { createConsoleUser, signInToConsole } from '../support/console.js';
import { startTestGatehouse, TEST_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import { discover, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * A relying party's back-channel logout endpoint (Back-Channel Logout 1.0
 * §2.5-2.6): it verifies each logout token with jose against Gatehouse's JWKS.
 * Each delivery is answered by the next `answer` the test queued (200 if none).
 */
function startReceivingApp(issuer: string, clientId: () => string) {
  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const received: { claims: JWTPayload; typ: string | undefined }[] = [];
  const waiters: ((claims: JWTPayload) => void)[] = [];
  const answers: ((response: ServerResponse) => void)[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', async () => {
      const token = new URLSearchParams(body).get('logout_token') ?? '';
      try {
        const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer, audience: clientId(), algorithms: ['RS256'] });
        received.push({ claims: payload, typ: protectedHeader.typ });
        (answers.shift() ?? ((res: ServerResponse) => res.writeHead(200).end()))(response);
        waiters.shift()?.(payload);
      } catch (error) {
        response.writeHead(400).end(String(error));
      }
    });
  });
  return {
    received,
    /** The next verified logout token. */
    next: () => new Promise<JWTPayload>((resolve) => waiters.push(resolve)),
    answerNext: (answer: (response: ServerResponse) => void) => answers.push(answer),
    listen: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}/backchannel`)),
      ),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('OpenID Connect Back-Channel Logout', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let client: RegisteredClient;
  let config: oidc.Configuration;
  let app: ReturnType<typeof startReceivingApp>;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl } = await startWithSampleApp({
      GATEHOUSE_OUTBOUND_PRIVATE_NETWORKS: 'true',
      GATEHOUSE_BACKCHANNEL_LOGOUT_RETRY_DELAY: '1',
    }));
    app = startReceivingApp(gatehouse.issuer, () => client.client_id);
    const uri = await app.listen();
    client = await gatehouse.clients.registerClient({
      client_name: 'Notes',
      redirect_uris: ['http://127.0.0.1:8765/callback'],
      post_logout_redirect_uris: ['http://127.0.0.1:8765/signed-out'],
      backchannel_logout_uri: uri,
      backchannel_logout_session_required: true,
    });
    config = await discover(gatehouse, client);
  });
  afterAll(async () => {
    await app?.close();
    await stopAndDrop(gatehouse, databaseUrl);
  });

  it('is advertised in discovery', async () => {
    const metadata = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({ backchannel_logout_supported: true, backchannel_logout_session_supported: true });
  });

  it('POSTs a signed logout token to the app when the user signs out, without making the logout page wait for it', async () => {
    const { tokens, browser } = await signIn(config);
    const sid = decodeJwt(tokens.id_token as string).sid;
    expect(sid).toEqual(expect.any(String));
    // The app holds its answer until the user's logout page has come back.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    app.answerNext((response) => void held.then(() => response.writeHead(200).end()));
    const delivered = app.next();

    const page = await browser.open(
      oidc
        .buildEndSessionUrl(config, {
          id_token_hint: tokens.id_token as string,
          post_logout_redirect_uri: 'http://127.0.0.1:8765/signed-out',
        })
        .toString(),
    );
    const done = await browser.submit(page, '/session/end/confirm', { logout: 'yes' }, { stopAt: 'http://127.0.0.1:8765/signed-out' });
    expect(done.url).toBe('http://127.0.0.1:8765/signed-out');
    const claims = await delivered;
    release();

    // Back-Channel Logout 1.0 §2.4: iss, aud, iat, jti, events, sub and/or sid, never a nonce.
    expect(claims).toMatchObject({ iss: gatehouse.issuer, aud: client.client_id, sid, events: { [BACKCHANNEL_EVENT]: {} } });
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims).not.toHaveProperty('nonce');
    expect(app.received.at(-1)?.typ).toBe('logout+jwt');
  });

  it('tries again when the app answers with an error', async () => {
    const { tokens, browser } = await signIn(config);
    app.answerNext((response) => response.writeHead(503).end());
    const first = app.next();
    const second = app.next();
    const page = await browser.open(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token as string }).toString());
    await browser.submit(page, '/session/end/confirm', { logout: 'yes' });
    const [failed, retried] = await Promise.all([first, second]);
    expect(retried.sid).toBe(failed.sid);
    expect(retried.jti).not.toBe(failed.jti);
    expect(gatehouse.log.lines.some((line) => line.includes(`back-channel logout to client ${client.client_id} failed (try 1 of 3)`))).toBe(
      true,
    );
  });

  const createUser = (email: string) =>
    gatehouse.users.createUser({ email, password: 'correct horse battery staple', emailVerified: true });
  /** Signs `email` in to the app (in `browser`, else a new one) and gives the session id its ID token names. */
  const sidOfSignIn = async (email: string, browser?: Browser) =>
    decodeJwt((await signIn(config, { email, browser })).tokens.id_token as string).sid;

  it('tells the app when an admin disables the user', async () => {
    await createUser('grace@example.test');
    const { tokens } = await signIn(config, { email: 'grace@example.test' });
    const claims = decodeJwt(tokens.id_token as string);
    const delivered = app.next();
    await gatehouse.users.setUserDisabled(claims.sub as string, true);
    expect(await delivered).toMatchObject({ sub: claims.sub, sid: claims.sid });
  });

  it('tells the app when an admin deletes the user or ends their sessions', async () => {
    for (const [email, end] of [
      ['lin@example.test', (id: string) => gatehouse.users.deleteUser(id)],
      ['kay@example.test', (id: string) => gatehouse.users.revokeUserSessions(id)],
    ] as const) {
      const user = await createUser(email);
      const { tokens } = await signIn(config, { email });
      const delivered = app.next();
      await end(user.id);
      expect(await delivered).toMatchObject({ sub: user.id, sid: decodeJwt(tokens.id_token as string).sid });
    }
  });

  /** The Session row (its uid) that signed the app in with this `sid`, if it still exists. */
  const sessionUidOf = async (sid: unknown): Promise<string | undefined> => {
    const rows = await gatehouse.prisma.$queryRaw<{ uid: string }[]>`
      SELECT uid FROM oidc_payloads WHERE model = 'Session' AND payload->'authorizations'->${client.client_id}->>'sid' = ${String(sid)}`;
    return rows[0]?.uid;
  };
  const sidsReceivedFor = (sub: string) => app.received.filter(({ claims }) => claims.sub === sub).map(({ claims }) => claims.sid);

  it('tells the app when an admin signs out one of the user’s sessions in the console, and only for that session', async () => {
    const user = await createUser('one@example.test');
    const ended = await sidOfSignIn('one@example.test');
    const kept = await sidOfSignIn('one@example.test');
    const uid = (await sessionUidOf(ended)) as string;
    expect(uid).toEqual(expect.any(String));
    await createConsoleUser(gatehouse, 'console-root@example.test');
    const admin = await signInToConsole(gatehouse, 'console-root@example.test');

    const delivered = app.next();
    const page = await admin.browser.open(`${gatehouse.url}/console/users/${user.id}`);
    const done = await admin.browser.submit(page, '/sessions/end', { session: uid });
    expect(done.html).toContain('That session was signed out.');
    expect(await delivered).toMatchObject({ sub: user.id, sid: ended });
    // Back-Channel Logout 1.0 §2.7: only the ended session's apps are told; the other session goes on.
    expect(await sessionUidOf(kept)).toEqual(expect.any(String));
    expect(sidsReceivedFor(user.id)).toEqual([ended]);
  });

  it('tells the app when an admin signs out of the console, for the session the console was signed in from only', async () => {
    const admin = await createConsoleUser(gatehouse, 'console-leaver@example.test');
    const elsewhere = await sidOfSignIn('console-leaver@example.test');
    // One browser: the app, then the console, in the same Gatehouse session.
    const browser = new Browser();
    const sid = await sidOfSignIn('console-leaver@example.test', browser);
    // Already signed in to Gatehouse: the console opens without the login page.
    const page = await browser.open(`${gatehouse.url}/console`);
    expect(page.url).toBe(`${gatehouse.url}/console`);

    const delivered = app.next();
    const signedOut = await browser.submit(page, '/console/sign-out');
    expect(signedOut.url).toBe(`${gatehouse.url}/console/signed-out`);
    expect(await delivered).toMatchObject({ sub: admin.id, sid });
    expect(await sessionUidOf(sid)).toBeUndefined();
    expect(await sessionUidOf(elsewhere)).toEqual(expect.any(String));
    expect(sidsReceivedFor(admin.id)).toEqual([sid]);
  });

  it('tells the app of each other session when the user signs out all other sessions on the account page, not of the kept one', async () => {
    const user = await createUser('many@example.test');
    const others = [await sidOfSignIn('many@example.test'), await sidOfSignIn('many@example.test')];
    // This browser signed in to the app, then opens its account page in the same session.
    const browser = new Browser();
    const kept = await sidOfSignIn('many@example.test', browser);
    const account = await browser.open(`${gatehouse.url}/account`);
    expect(account.url).toBe(`${gatehouse.url}/account`);

    const delivered = [app.next(), app.next()];
    const done = await browser.submit(account, '/account/sessions/end-others');
    expect(done.html).toContain('2 other sessions were signed out.');
    const received = await Promise.all(delivered);
    expect(received.map((claims) => claims.sid).sort()).toEqual([...others].sort());
    for (const claims of received) expect(claims.sub).toBe(user.id);
    expect(await sessionUidOf(kept)).toEqual(expect.any(String));
    expect(sidsReceivedFor(user.id)).not.toContain(kept);
  });

  it('asks for delivery at once, after the commit, only when ending one session queued a logout token', async () => {
    const user = await createUser('kick@example.test');
    const sid = await sidOfSignIn('kick@example.test');
    const uid = (await sessionUidOf(sid)) as string;
    let kicks = 0;
    const sessions = createSessionActivityStore(gatehouse.prisma, { sessionsEnded: () => kicks++ });
    const delivered = app.next();
    expect(await sessions.endSession(user.id, uid, SYSTEM)).toBe(true);
    expect(kicks).toBe(1);
    expect(await delivered).toMatchObject({ sub: user.id, sid });
    // Nothing left to end: nothing queued, no delivery asked for.
    expect(await sessions.endSession(user.id, uid, SYSTEM)).toBe(false);
    expect(await sessions.endOtherSessions(user.id, uid, SYSTEM)).toBe(0);
    expect(kicks).toBe(1);
  });

  it('tells the app when the CLI disables the user: the token queued by the CLI is delivered by the server', async () => {
    const user = await createUser('cli@example.test');
    const { tokens } = await signIn(config, { email: 'cli@example.test' });
    const delivered = app.next();
    const result = await runCli(['users', 'disable', user.id], { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET });
    expect(result.code, result.stderr).toBe(0);
    expect(await delivered).toMatchObject({ sub: user.id, sid: decodeJwt(tokens.id_token as string).sid });
  });

  it('keeps a logout token that failed across a restart, and delivers it after', async () => {
    const { tokens, browser } = await signIn(config);
    app.answerNext((response) => response.writeHead(503).end());
    const failed = app.next();
    const page = await browser.open(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token as string }).toString());
    await browser.submit(page, '/session/end/confirm', { logout: 'yes' });
    await failed;
    // stop() lets the delivery in progress record its retry first.
    await gatehouse.stop();
    const retried = app.next();
    // A new instance of the same issuer, on a port of its own (reusing the old
    // one could race another test file that just picked it as free).
    const { PORT: _oldPort, ...environment } = gatehouse.environment;
    gatehouse = await startTestGatehouse(databaseUrl, { ...environment, ISSUER: gatehouse.issuer });
    expect((await retried).sid).toBe(decodeJwt(tokens.id_token as string).sid);
  });
});
