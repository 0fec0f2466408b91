import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { currentRequest } from '../../src/log.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { isConnectionSetUp } from '../support/statements-sent.js';
import {
  authorizationRequestWithPkce,
  PASSWORD,
  REDIRECT_URI,
  RFC7636_EXAMPLE_CODE_VERIFIER,
  startWithSampleApp,
  stopAndDrop,
} from '../support/sample-app.js';

interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
  /** The prepared statement's name; undefined for one sent unnamed (parsed and planned each time). */
  readonly name: string | undefined;
  /** Sent by Prisma's query engine (its pg adapter asks for rows as arrays), not straight through pg. */
  readonly viaPrisma: boolean;
}

/**
 * What one password login through the pages costs the database, counted
 * (never timed): every statement sent to Postgres while its requests run,
 * transactions' BEGIN and COMMIT included. The pg client's query method is
 * only observed, not replaced. A change that adds a round trip to a login
 * fails here.
 */
describe('the database work of signing in through the pages', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let clientId: string;
  /** By request (each of the login's HTTP requests has its own id). */
  const statements = new Map<string, Statement[]>();

  beforeAll(async () => {
    ({ gatehouse, databaseUrl } = await startWithSampleApp());
    const loginApp = await gatehouse.clients.registerClient({
      client_name: 'First-party app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      first_party: true,
    });
    clientId = loginApp.client_id;
    const query = pg.Client.prototype.query;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      const requestId = currentRequest()?.requestId;
      const config = args[0] as { text?: string; values?: unknown[] } | string | undefined;
      const text = typeof config === 'string' ? config : (config?.text ?? '');
      if (requestId?.startsWith('counted-') && !isConnectionSetUp(text)) {
        const values = (Array.isArray(args[1]) ? args[1] : typeof config === 'object' ? config?.values : undefined) ?? [];
        const name = typeof config === 'object' ? (config as { name?: string }).name || undefined : undefined;
        const viaPrisma = typeof config === 'object' && (config as { rowMode?: string }).rowMode === 'array';
        statements.set(requestId, [...(statements.get(requestId) ?? []), { text: text.replace(/\s+/g, ' '), values, name, viaPrisma }]);
      }
      return (query as (...all: unknown[]) => unknown).apply(this, args);
    } as typeof pg.Client.prototype.query);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await stopAndDrop(gatehouse, databaseUrl);
  });

  /**
   * The same four requests as the bench's login (bench/sign-in.ts): the authorization request, the
   * login page, the form posted, the redirects back to the app with a code.
   * Each HTTP request gets its own request id, `counted-LABEL-N`.
   */
  async function logIn(label: string, browser = new Browser(), email = 'ada@example.test'): Promise<string> {
    browser.headers['user-agent'] = `Test browser ${label}`;
    const send = browser.fetch.bind(browser);
    let sent = 0;
    browser.fetch = (url, init) => {
      browser.headers['x-request-id'] = `counted-${label}-${sent++}`;
      return send(url, init);
    };
    const login = await browser.open(await authorizationUrl(label), { stopAt: REDIRECT_URI });
    const done = await browser.submit(login, '/login', { email, password: PASSWORD }, { stopAt: REDIRECT_URI });
    browser.fetch = send;
    return done.url;
  }

  async function authorizationUrl(label: string): Promise<string> {
    const { url } = await authorizationRequestWithPkce(
      { issuer: gatehouse.issuer, clientId },
      { scope: 'openid', state: `state-${label}` },
      RFC7636_EXAMPLE_CODE_VERIFIER,
    );
    return url;
  }

  const ofLogin = (label: string) => [...statements].filter(([requestId]) => requestId.startsWith(`counted-${label}-`));

  it('sends 18 statements for a sign-in through the form of a first-party app, once the client is cached', async () => {
    await logIn('warm-up');
    const url = await logIn('counted');
    expect(new URL(url).searchParams.has('code')).toBe(true);
    // Four requests: the authorization request, the login page, the form, the
    // resume that redirects with the code. No consent interaction between.
    expect(ofLogin('counted').map(([requestId]) => requestId)).toEqual([0, 1, 2, 3].map((n) => `counted-counted-${n}`));
    // The client and API caches' loads are left out: registering the app sends
    // a change notification that may empty the cache after the warm-up.
    const all = ofLogin('counted')
      .flatMap(([requestId, sent]) => sent.map((statement) => `${requestId}: ${statement.text.slice(0, 120)}`))
      .filter((line) => !/FROM "public"\."(clients|resources)"/.test(line));
    expect(all, all.join('\n')).toHaveLength(18);
    // The user is looked up once, by email, when the form is posted; the resume that signs it in
    // reads it with its interaction.
    expect(all.filter((line) => /^counted-counted-\d: SELECT u\.id/.test(line))).toEqual([expect.stringMatching(/^counted-counted-2: /)]);
    expect(all.filter((line) => /^counted-counted-3: SELECT t\.payload, a\.\*/.test(line))).toHaveLength(1);
  });

  /** An authorization request of a browser signed in already (single sign-on): the page it ends on, and what it sent. */
  async function signOnAgain(browser: Browser, label: string) {
    browser.headers['x-request-id'] = `counted-${label}-0`;
    const answer = await browser.open(await authorizationUrl(label), { stopAt: REDIRECT_URI });
    const sent = ofLogin(label).flatMap(([, list]) => list.map((statement) => statement.text.replace(/\s+/g, ' ')));
    return { answer, sent, userLookups: sent.filter((text) => /^ ?SELECT u\.id/.test(text)) };
  }

  it('sends 5 statements for an authorization request of a browser signed in already (single sign-on): the account read with the session, the session saved with its use', async () => {
    const browser = new Browser();
    await logIn('before-sso', browser);
    const { answer, sent, userLookups } = await signOnAgain(browser, 'sso');
    expect(new URL(answer.url).searchParams.has('code')).toBe(true);
    expect(ofLogin('sso').map(([requestId]) => requestId)).toEqual(['counted-sso-0']);
    // The flow-start counter, the session with its account, the grant, the code, and the session saved with its use.
    expect(sent, sent.join('\n')).toHaveLength(5);
    expect(sent.filter((text) => /FROM oidc_payloads t LEFT JOIN LATERAL \( SELECT u\.id/.test(text))).toHaveLength(1);
    expect(userLookups).toEqual([]);
    expect(sent.filter((text) => text.includes('session_activity'))).toHaveLength(1);
  });

  it('asks a user disabled or deleted in the database alone to sign in again, with no lookup of its own', async () => {
    const grace = await gatehouse.users.createUser({ email: 'grace@example.test', password: PASSWORD, name: 'Grace Hopper' });
    const disabledBrowser = new Browser();
    await logIn('before-disabled', disabledBrowser, 'grace@example.test');
    const deletedBrowser = new Browser();
    await logIn('before-deleted', deletedBrowser, 'grace@example.test');

    // Straight in the database: the users module would also end the sessions.
    await gatehouse.prisma.$executeRaw`UPDATE users SET disabled = true WHERE id = ${grace.id}::uuid`;
    const disabled = await signOnAgain(disabledBrowser, 'disabled');
    expect(disabled.answer.url).not.toContain('code=');
    expect(disabled.answer.html).toContain('name="password"');
    expect(disabled.userLookups).toEqual([]);
    // The authorization request (the flow-start counter, the session with its account, the new
    // interaction, the session saved) and the login page (the interaction with its account, the
    // session, a pending second factor, the form's count): nothing asks about the gone account.
    expect(disabled.sent, disabled.sent.join('\n')).toHaveLength(8);

    await gatehouse.prisma.$executeRaw`DELETE FROM users WHERE id = ${grace.id}::uuid`;
    const deleted = await signOnAgain(deletedBrowser, 'deleted');
    expect(deleted.answer.url).not.toContain('code=');
    expect(deleted.answer.html).toContain('name="password"');
    expect(deleted.userLookups).toEqual([]);
  });

  it('shows the account page with the user read with its session: no lookup of its own, and none for a user disabled since', async () => {
    const browser = new Browser();
    await logIn('before-account', browser);
    const userLookups = (label: string) =>
      (statements.get(`counted-${label}`) ?? [])
        .map((statement) => statement.text)
        .filter((text) => /FROM "public"\."users"|^ ?SELECT u\.id/.test(text));

    browser.headers['x-request-id'] = 'counted-account';
    const page = await browser.open(`${gatehouse.url}/account`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('ada@example.test');
    expect(
      statements.get('counted-account')?.filter((statement) => /FROM oidc_payloads t LEFT JOIN LATERAL/.test(statement.text)),
    ).toHaveLength(1);
    expect(userLookups('account')).toEqual([]);

    const lin = await gatehouse.users.createUser({ email: 'lin@example.test', password: PASSWORD });
    const linBrowser = new Browser();
    await logIn('before-account-disabled', linBrowser, 'lin@example.test');
    await gatehouse.prisma.$executeRaw`UPDATE users SET disabled = true WHERE id = ${lin.id}::uuid`;
    linBrowser.headers['x-request-id'] = 'counted-account-disabled';
    const signIn = await linBrowser.fetch(`${gatehouse.url}/account`, { redirect: 'manual' });
    expect(signIn.status).toBe(303);
    expect(signIn.headers.get('location')).toMatch(/^\/auth\?/);
    // The session was found, with its (disabled) user: not a browser without a session.
    expect(
      statements.get('counted-account-disabled')?.filter((statement) => /FROM oidc_payloads t LEFT JOIN LATERAL/.test(statement.text)),
    ).toHaveLength(1);
    expect(userLookups('account-disabled')).toEqual([]);
  });

  it('does not sign in a user disabled in the database alone between the password and the resume', async () => {
    const ida = await gatehouse.users.createUser({ email: 'ida@example.test', password: PASSWORD, name: 'Ida Noddack' });
    const browser = new Browser();
    const login = await browser.open(await authorizationUrl('between'), { stopAt: REDIRECT_URI });
    // The form's answer redirects to the resume (/auth/:uid); stop there.
    const resume = await browser.submit(
      login,
      '/login',
      { email: 'ida@example.test', password: PASSWORD },
      { stopAt: `${gatehouse.issuer}/auth/` },
    );
    expect(resume.url).toMatch(/\/auth\/[\w-]+$/);
    await gatehouse.prisma.$executeRaw`UPDATE users SET disabled = true WHERE id = ${ida.id}::uuid`;
    const answer = await browser.open(resume.url, { stopAt: REDIRECT_URI });
    expect(answer.url).not.toContain('code=');
    expect(answer.html).toContain('name="password"');
  });

  it('records where and when the session was used in the statement that saves the session', async () => {
    await logIn('activity');
    const sent = ofLogin('activity').flatMap(([, list]) => list);
    const withActivity = sent.filter((statement) => statement.text.includes('session_activity'));
    expect(withActivity.map((statement) => statement.text)).toEqual([expect.stringMatching(/INSERT INTO oidc_payloads/)]);
    const [saved] = withActivity;
    expect(saved?.values[0]).toBe('Session');
    const uid = saved?.values[5];
    const [activity] = await gatehouse.prisma.sessionActivity.findMany({ where: { sessionUid: String(uid) } });
    expect(activity).toMatchObject({
      accountId: expect.any(String),
      ip: expect.stringMatching(/127\.0\.0\.1$/),
      userAgent: 'Test browser activity',
    });
    expect(activity?.lastSeen.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(activity?.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('sends every statement prepared (named), and one text always by one name', async () => {
    await logIn('named');
    const sent = ofLogin('named').flatMap(([, list]) => list);
    expect(sent.length).toBeGreaterThan(0);
    const unnamed = sent.filter((statement) => statement.name === undefined).map((statement) => statement.text.slice(0, 120));
    expect(unnamed, unnamed.join('\n')).toEqual([]);
    const nameOf = new Map<string, string>();
    for (const statement of sent) {
      expect(statement.name).toMatch(/^gatehouse_[0-9a-f]{24}$/);
      expect(nameOf.get(statement.text) ?? statement.name).toBe(statement.name);
      nameOf.set(statement.text, statement.name as string);
    }
    expect(new Set(nameOf.values()).size).toBe(nameOf.size);
  });

  it("sends every statement straight through pg, none through Prisma's query engine", async () => {
    await logIn('plain');
    // The client and API caches' loads aside (Prisma's, on a miss: see above).
    const sent = ofLogin('plain')
      .flatMap(([, list]) => list)
      .filter((statement) => !/FROM "public"\."(clients|resources)"/.test(statement.text));
    expect(sent.length).toBeGreaterThan(0);
    const throughPrisma = sent.filter((statement) => statement.viaPrisma).map((statement) => statement.text.slice(0, 120));
    expect(throughPrisma, throughPrisma.join('\n')).toEqual([]);
  });

  it("grants a first-party app's implied consent at the resume: one interaction saved, the grant saved once", async () => {
    await logIn('hop');
    const saved = ofLogin('hop')
      .flatMap(([, sent]) => sent)
      .filter((statement) => /^\s*INSERT INTO oidc_payloads/.test(statement.text))
      .map((statement) => ({ model: String(statement.values[0]), id: String(statement.values[1]) }));
    // The login's interaction (saved when started and with the login's result);
    // a consent interaction would be a second one.
    expect(new Set(saved.filter(({ model }) => model === 'Interaction').map(({ id }) => id)).size).toBe(1);
    expect(saved.filter(({ model }) => model === 'Grant')).toHaveLength(1);
  });

  it("decides on a second factor from the user's row: no separate count of roles that require one, no list of factors", async () => {
    await logIn('mfa');
    const texts = ofLogin('mfa').flatMap(([, sent]) => sent.map((statement) => statement.text));
    expect(texts.filter((text) => text.includes('"require_mfa"'))).toEqual([]);
    expect(texts.filter((text) => text.includes('r.require_mfa')).length).toBeGreaterThan(0);
    expect(texts.filter((text) => /^\s*SELECT [^(]* FROM mfa_factors/.test(text))).toEqual([]);
    expect(texts.filter((text) => text.includes('FROM mfa_factors f WHERE f.user_id = u.id')).length).toBeGreaterThan(0);
  });

  it('reads an interaction or a session row at most once in any one request', async () => {
    await logIn('once');
    const requests = ofLogin('once');
    expect(requests.length).toBeGreaterThanOrEqual(4);
    let seen = 0;
    for (const [requestId, sent] of requests) {
      const reads = sent
        .filter((statement) => /^\s*SELECT .* FROM ("public"\.)?"?oidc_payloads"? /.test(statement.text))
        .map((statement) => `${String(statement.values[0])} ${String(statement.values[1])}`)
        .filter((read) => read.startsWith('Interaction ') || read.startsWith('Session '));
      expect(reads, requestId).toEqual([...new Set(reads)]);
      seen += reads.length;
    }
    // The interaction's reads (page, form, resume) and the session's.
    expect(seen).toBeGreaterThanOrEqual(3);
  });

  it('counts the attempt for the IP and the account in one statement, and gives it back in one', async () => {
    await logIn('throttle');
    const counters = ofLogin('throttle')
      .flatMap(([, sent]) => sent)
      .filter((statement) => /login_counters/.test(statement.text) && /^(ip|account):/.test(String(statement.values[0])));
    expect(counters.map((statement) => statement.text.slice(0, 40))).toEqual([
      expect.stringMatching(/^ ?WITH by_ip AS/),
      expect.stringMatching(/^ ?WITH forgotten AS \(DELETE/),
    ]);
  });
});
