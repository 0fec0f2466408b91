import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import pg from 'pg';
import { createPasswordHasher } from '../src/accounts/passwords.js';
import { createUserService } from '../src/accounts/users.js';
import { createClientService } from '../src/clients/clients.js';
import { createResourceService } from '../src/clients/resources.js';
import { deriveSecrets } from '../src/config/master-secret.js';
import { findFreePort, startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { applyMigrations } from '../src/db/migrate.js';
import { createPrismaClient } from '../src/db/prisma.js';
import { deleteExpiredRows } from '../src/jobs/expired-rows.js';
import { Browser } from '../test/support/browser.js';
import { createHttpClient, round, runLoad, type LoadResult } from './load.js';
import { EXPIRED_SHARE, seedScale, seededEmail, sizesFor, type ScaleSizes } from './scale-seed.js';

/**
 * `npm run bench:scale`: the same measurements on an empty database and on
 * one holding BENCH_SCALE × (1,000,000 users, 100,000 clients, 1,000 APIs,
 * 10,000,000 protocol rows), both served at once by two Gatehouse processes
 * on one embedded Postgres, each workload measured in turn on both (the best run
 * per cell: others' load on a shared machine only ever slows a figure).
 * Goal: every latency on the large database within 1.5× of the empty one.
 * Not a test: no thresholds; writes bench/results/scale-latest.json.
 */
const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const SECONDS = Number(process.env.BENCH_SECONDS ?? '3');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '2');
const GOAL = 1.5;
const SECRET = 'benchmark-secret-that-is-at-least-32-characters';
const ADMIN = { id: 'bench-admin', secret: 'bench-admin-secret-0123456789-abcdefgh' };
const PASSWORD = 'benchmark password long enough';
const REDIRECT_URI = 'http://127.0.0.1:8765/callback';
const API = 'https://bench-api.example.test/';
/** Clients registered for the "client not in cache" requests: each is used once per server start. */
const FRESH_CLIENTS = 4000;
/** Users beside the bench user in both databases: two pages of the users list and more. */
const LISTED_USERS = 60;
/** The page size of every admin list measured. */
const PAGE = 20;
/** APIs beside the bench API, and `login.throttled` events, in both databases: a full page of each list. */
const LISTED_APIS = 25;
const LISTED_EVENTS = 25;
const root = new URL('../', import.meta.url);

interface Fixtures {
  readonly service: { client_id: string; client_secret: string };
  readonly app: { client_id: string; client_secret: string };
  readonly passwordHash: string;
}

interface Cell {
  readonly workload: string;
  readonly concurrency: number;
  readonly empty: LoadResult;
  readonly scaled: LoadResult;
  readonly p50Ratio: number;
  readonly p99Ratio: number;
}

async function main(): Promise<void> {
  if (!(SCALE > 0 && SCALE <= 1)) throw new Error('BENCH_SCALE must be in (0, 1]');
  const sizes = sizesFor(SCALE);
  const loadAverageAtStart = round(loadavg()[0] ?? 0, 2);
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-scale-'));
  const postgres = await startEmbeddedPostgres({ dataDir, database: 'postgres' });
  const servers: Server[] = [];
  const runs: Run[] = [];
  try {
    const admin = new pg.Client({ connectionString: postgres.connectionString });
    await admin.connect();
    await admin.query('CREATE DATABASE gatehouse_empty');
    await admin.query('CREATE DATABASE gatehouse_scaled');
    await admin.end();
    const urlOf = (name: string) => Object.assign(new URL(postgres.connectionString), { pathname: `/${name}` }).toString();
    const emptyUrl = urlOf('gatehouse_empty');
    const scaledUrl = urlOf('gatehouse_scaled');

    const empty = await setUp(emptyUrl);
    const scaled = await setUp(scaledUrl);
    console.error(`seeding ${JSON.stringify(sizes)} (BENCH_SCALE=${SCALE})…`);
    const seedStarted = performance.now();
    const seedSteps: Record<string, number> = {};
    await withClient(scaledUrl, (client) =>
      seedScale(client, sizes, { passwordHash: scaled.passwordHash, templateClientId: scaled.service.client_id }, (step, ms) => {
        seedSteps[step] = round(ms / 1000, 1);
        console.error(`  ${step}: ${round(ms / 1000, 1)} s`);
      }),
    );
    const seedSeconds = round((performance.now() - seedStarted) / 1000, 1);
    console.error(`seeded in ${seedSeconds} s`);
    const databaseSizes = await withClient(scaledUrl, tableSizes);

    const emptyServer = await startServer(emptyUrl);
    servers.push(emptyServer);
    const scaledServer = await startServer(scaledUrl);
    servers.push(scaledServer);
    const emptyRun = await prepare(emptyServer, empty, { users: 0, clients: 0 });
    const scaledRun = await prepare(scaledServer, scaled, sizes);
    runs.push(emptyRun, scaledRun);

    const rounds = await measureAlternating({ empty: emptyRun, scaled: scaledRun });

    // One cleanup pass each: on the empty database, as many expired rows as the large one has.
    const expiredRows = Math.round((sizes.protocolRows - Math.round(sizes.protocolRows * 0.2)) * EXPIRED_SHARE);
    await withClient(emptyUrl, (client) =>
      client.query(
        `INSERT INTO oidc_payloads (model, id, payload, expires_at)
         SELECT 'RefreshToken', 'expired-' || i, '{"kind":"RefreshToken"}', now() - interval '2 hours' FROM generate_series(1, $1::int) i`,
        [expiredRows],
      ),
    );
    const cleanup = { empty: await cleanupPass(emptyUrl, emptyRun), scaled: await cleanupPass(scaledUrl, scaledRun) };

    const cells = bestOf(rounds);
    const results = {
      date: new Date().toISOString(),
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: availableParallelism(),
        memoryGiB: round(totalmem() / 2 ** 30, 1),
        node: process.version,
        kernel: release(),
        loadAverageAtStart,
        loadAverageAtEnd: round(loadavg()[0] ?? 0, 2),
      },
      settings: { scale: SCALE, secondsPerRun: SECONDS, rounds: ROUNDS, goal: `every latency within ${GOAL}x of the empty database` },
      sizes,
      seedSeconds,
      seedSteps,
      databaseSizes,
      cells,
      cleanup,
      flat: {
        p50: cells.every((cell) => cell.p50Ratio <= GOAL),
        p99: cells.every((cell) => cell.p99Ratio <= GOAL),
      },
      rounds,
    };
    await mkdir(new URL('bench/results/', root), { recursive: true });
    await writeFile(new URL('bench/results/scale-latest.json', root), `${JSON.stringify(results, null, 2)}\n`);
    printTable(results);
    console.log('\nwrote bench/results/scale-latest.json');
  } finally {
    adminAgent.destroy();
    for (const run of runs) run.http.close();
    for (const server of servers) await server.stop();
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Migrations, the API, a client-credentials service (the template of every fresh and seeded client), an app, a user. */
async function setUp(databaseUrl: string): Promise<Fixtures> {
  await applyMigrations(databaseUrl);
  const prisma = createPrismaClient(databaseUrl);
  try {
    const clients = createClientService(prisma, deriveSecrets(SECRET).clientSecretKey);
    await createResourceService(prisma).createResource({
      identifier: API,
      name: 'Bench API',
      scopes: ['bench:read'],
      access_token_ttl: 600,
    });
    const service = await clients.registerClient({
      client_name: 'Bench service',
      grant_types: ['client_credentials'],
      api_access: [{ resource: API, scopes: ['bench:read'] }],
      default_resource: API,
    });
    const app = await clients.registerClient({
      client_name: 'Bench app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'openid email offline_access',
      first_party: true,
      api_access: [{ resource: API, scopes: ['bench:read'] }],
    });
    const users = createUserService(prisma, createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }));
    await users.createUser({ email: 'bench@example.test', password: PASSWORD, emailVerified: true });
    const [row] = await prisma.$queryRaw<{ password_hash: string }[]>`SELECT password_hash FROM users WHERE email = 'bench@example.test'`;
    // Enough users for the users list to have a second page on the empty database too, so
    // "admin users, next page" reads a page after a cursor on both sides (it read the first
    // page again on the empty one, which had one user).
    await prisma.$executeRaw`
      INSERT INTO users (id, email, password_hash, email_verified, updated_at)
      SELECT gen_random_uuid(), 'listed-' || i || '@example.test', password_hash, true, now() FROM users, generate_series(1, ${LISTED_USERS}::int) i
       WHERE email = 'bench@example.test'`;
    // A full page of APIs and of login.throttled events on the empty database too, so those lists
    // render the same 20 items on both sides (the empty one had one API and no such event).
    await prisma.$executeRaw`
      INSERT INTO resources (id, identifier, name, scopes, access_token_ttl, updated_at)
      SELECT gen_random_uuid(), 'https://listed-' || i || '.example.test/', 'Listed API ' || i, scopes, access_token_ttl, now()
        FROM resources, generate_series(1, ${LISTED_APIS}::int) i
       WHERE identifier = ${API}`;
    await prisma.$executeRaw`
      INSERT INTO events (type, actor, subject, client_ip)
      SELECT 'login.throttled', 'user:listed-' || i, 'user:listed-' || i, '10.0.0.' || i FROM generate_series(1, ${LISTED_EVENTS}::int) i`;
    // The clients each request of "client credentials, not in cache" uses once: copies of the service.
    await prisma.$executeRaw`
      INSERT INTO clients (id, metadata, secret_hash, updated_at)
      SELECT 'fresh-client-' || i, metadata, secret_hash, now() FROM clients, generate_series(1, ${FRESH_CLIENTS}::int) i
       WHERE id = ${service.client_id}`;
    return {
      service: { client_id: service.client_id, client_secret: service.client_secret as string },
      app: { client_id: app.client_id, client_secret: app.client_secret as string },
      passwordHash: row?.password_hash as string,
    };
  } finally {
    await prisma.$disconnect();
  }
}

interface Server {
  readonly url: string;
  readonly issuer: string;
  stop(): Promise<void>;
}

/** `npm start`'s entry on a database, its request log discarded; waits until it answers. */
async function startServer(databaseUrl: string): Promise<Server> {
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: url,
      GATEHOUSE_SECRET: SECRET,
      GATEHOUSE_ADMIN_CLIENT_ID: ADMIN.id,
      GATEHOUSE_ADMIN_CLIENT_SECRET: ADMIN.secret,
      // Every sign-in of the benchmark comes from one IP.
      GATEHOUSE_FLOW_STARTS_PER_IP: '1000000',
      // The cleanup pass is measured on its own, not left to run during other measurements.
      GATEHOUSE_CLEANUP_INTERVAL: '86400',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The log is read (a full pipe would stall the server) and only its tail kept, for a failed start.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`Gatehouse did not start (exit code ${child.exitCode}):\n${output}`);
    if (
      await fetch(`${url}/jwks`).then(
        (response) => response.ok,
        () => false,
      )
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    issuer: url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface Run {
  readonly server: Server;
  readonly fixtures: Fixtures;
  readonly config: oidc.Configuration;
  readonly http: ReturnType<typeof createHttpClient>;
  readonly adminToken: string;
  /** Who signs in: the bench user, or seeded users (all with PASSWORD). */
  readonly emailFor: (n: number) => string;
  /** Next unused fresh client. */
  nextFresh: number;
  /** Sign-ins so far (each with the next user). */
  signIns: number;
  readonly refreshChains: string[];
  readonly opaqueTokens: string[];
  readonly search: string;
  readonly clientSearch: string;
  readonly usersSecondPage: string;
}

/** Per server: openid-client, an admin token, refresh chains and opaque tokens for 16 loops, search terms. */
async function prepare(server: Server, fixtures: Fixtures, sizes: Pick<ScaleSizes, 'users' | 'clients'>): Promise<Run> {
  const config = await oidc.discovery(
    new URL(server.issuer),
    fixtures.app.client_id,
    {},
    oidc.ClientSecretBasic(fixtures.app.client_secret),
    {
      execute: [oidc.allowInsecureRequests],
    },
  );
  const http = createHttpClient(server.url, 128);
  const tokenAnswer = await http.postForm('/token', { grant_type: 'client_credentials', scope: 'admin' }, basic(ADMIN.id, ADMIN.secret));
  const adminToken = (JSON.parse(tokenAnswer.body) as { access_token?: string }).access_token;
  if (!adminToken) throw new Error(`no admin token: ${tokenAnswer.body}`);
  let signIns = 0;
  const emailFor = sizes.users > 0 ? (n: number) => seededEmail(1 + ((n * 7919) % sizes.users)) : () => 'bench@example.test';
  const refreshChains: string[] = [];
  const opaqueTokens: string[] = [];
  for (let loop = 0; loop < 16; loop += 1) {
    refreshChains.push((await signIn(config, emailFor(signIns++), API)).refresh_token as string);
    opaqueTokens.push((await signIn(config, emailFor(signIns++))).access_token);
  }
  // A term that finds one user in the seeded set (6 characters of an email's random part, the first
  // of a few seeded emails' that no other user's email or name contains), or the bench user.
  const search = sizes.users > 0 ? await termFindingOneUser(server, adminToken, emailFor) : 'bench@';
  // A term that finds one client: part of a seeded client's name ('Scale client N', N above a tenth of
  // the clients, so no longer number extends it), or the bench app's name.
  const clientSearch = sizes.clients >= 100 ? `client ${sizes.clients - 12}` : 'Bench app';
  const first = JSON.parse((await adminGet(server, adminToken, `/admin/users?limit=${PAGE}`)).body) as { next_cursor: string | null };
  if (!first.next_cursor) throw new Error('the users list has no second page');
  const run: Run = {
    server,
    fixtures,
    config,
    http,
    adminToken,
    emailFor: (n) => emailFor(n + 1000),
    nextFresh: 1,
    signIns: 0,
    refreshChains,
    opaqueTokens,
    search,
    clientSearch,
    usersSecondPage: `/admin/users?limit=${PAGE}&cursor=${first.next_cursor}`,
  };
  // Each list answers as many items on both databases (a full page, or the one a search finds),
  // so a ratio compares the same work on the data, not 20 items rendered against one.
  for (const { workload, path, items } of adminLists(run)) {
    const answered = await listedItems(server, adminToken, path);
    if (answered !== items) throw new Error(`${workload} (${path}) answered ${answered} items, not ${items}`);
  }
  return run;
}

/** 6 characters of a seeded email's random part that find that user alone (at a million users, about half of such terms do). */
async function termFindingOneUser(server: Server, adminToken: string, emailFor: (n: number) => string): Promise<string> {
  for (let n = 12345; n < 12345 + 200; n += 1) {
    const term = emailFor(n).slice(2, 8);
    if ((await listedItems(server, adminToken, usersSearchPath(term))) === 1) return term;
  }
  throw new Error('no 6-character term of 200 seeded emails finds one user alone');
}

/** How many items an admin list answers (its `data`), failing on any status but 200. */
async function listedItems(server: Server, adminToken: string, path: string): Promise<number | undefined> {
  return (JSON.parse(succeeded(await adminGet(server, adminToken, path)).body) as { data?: unknown[] }).data?.length;
}

const usersSearchPath = (term: string) => `/admin/users?limit=${PAGE}&search=${encodeURIComponent(term)}`;

/** The admin lists measured, with the items each answers on either database. */
function adminLists(run: Pick<Run, 'usersSecondPage' | 'search' | 'clientSearch'>): { workload: string; path: string; items: number }[] {
  return [
    { workload: 'admin users, first page', path: `/admin/users?limit=${PAGE}`, items: PAGE },
    { workload: 'admin users, next page', path: run.usersSecondPage, items: PAGE },
    { workload: 'admin users, search', path: usersSearchPath(run.search), items: 1 },
    { workload: 'admin clients, first page', path: `/admin/clients?limit=${PAGE}`, items: PAGE },
    { workload: 'admin clients, search', path: `/admin/clients?limit=${PAGE}&search=${encodeURIComponent(run.clientSearch)}`, items: 1 },
    { workload: 'admin APIs, first page', path: `/admin/resources?limit=${PAGE}`, items: PAGE },
    { workload: 'admin events, by type', path: `/admin/events?limit=${PAGE}&type=login.throttled`, items: PAGE },
  ];
}

/** The authorization code flow through the real login page (first-party app: no consent page); returns the tokens. */
async function signIn(config: oidc.Configuration, email: string, resource?: string) {
  const browser = new Browser();
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: resource ? 'openid email offline_access' : 'openid email',
    prompt: 'consent',
    ...(resource ? { resource } : {}),
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  let page = await browser.open(url.toString(), { stopAt: REDIRECT_URI });
  if (page.html.includes('/login"')) page = await browser.submit(page, '/login', { email, password: PASSWORD }, { stopAt: REDIRECT_URI });
  if (page.html.includes('/confirm"')) page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
  if (!page.url.startsWith(REDIRECT_URI)) throw new Error(`sign-in of ${email} failed: ${page.status} ${page.html.slice(0, 300)}`);
  return oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: verifier }, resource ? { resource } : undefined);
}

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

const adminAgent = new Agent({ keepAlive: true, maxSockets: 64 });

/** GET with the admin token, on its own keep-alive pool (bench/load.ts's client sends no headers on GET). */
function adminGet(server: Server, token: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { agent: adminAgent, headers: { authorization: `Bearer ${token}` } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

type Measured = LoadResult & { workload: string };

interface Workload {
  readonly workload: string;
  readonly concurrency: number;
  readonly worker: (loop: number) => Promise<boolean>;
  readonly maxRequests?: number;
  readonly seconds?: number;
}

/** The answer, if its status is 200; else an error that says what came instead (counted, and its reason printed, by measureAlternating). */
function succeeded<T extends { status: number; body: string }>(answer: T): T {
  if (answer.status !== 200) throw new Error(`${answer.status} ${answer.body.slice(0, 120)}`);
  return answer;
}

/** Introspects loop `loop`'s opaque token: true when the answer says it is active, else an error saying what came. */
async function introspectOpaqueToken(run: Run, loop: number): Promise<true> {
  const answer = await run.http.postForm(
    '/token/introspection',
    { token: run.opaqueTokens[loop] as string },
    basic(run.fixtures.app.client_id, run.fixtures.app.client_secret),
  );
  if (!succeeded(answer).body.includes('"active":true')) throw new Error(`inactive: ${answer.body.slice(0, 120)}`);
  return true;
}

/** Every workload at c=1 (latency) and c=16 (under load); sign-ins at c=1 and c=4 (argon2 bounds them). */
function workloadsOf(run: Run): Workload[] {
  const { http, fixtures } = run;
  const list: Workload[] = [];
  // Client credentials with a client this server has not seen since it started: the lookup goes to the database.
  for (const concurrency of [1, 16]) {
    list.push({
      workload: 'client_credentials (not cached)',
      concurrency,
      maxRequests: Math.floor(FRESH_CLIENTS / (ROUNDS * 2)),
      worker: async () => {
        const id = `fresh-client-${run.nextFresh++}`;
        succeeded(await http.postForm('/token', { grant_type: 'client_credentials' }, basic(id, fixtures.service.client_secret)));
        return true;
      },
    });
  }
  for (const concurrency of [1, 16]) {
    list.push({
      workload: 'refresh_token',
      concurrency,
      worker: async (loop) => {
        const answer = await http.postForm(
          '/token',
          { grant_type: 'refresh_token', refresh_token: run.refreshChains[loop] as string, resource: API },
          basic(fixtures.app.client_id, fixtures.app.client_secret),
        );
        run.refreshChains[loop] = (JSON.parse(succeeded(answer).body) as { refresh_token: string }).refresh_token;
        return true;
      },
    });
  }
  for (const concurrency of [1, 16]) {
    list.push({
      workload: 'introspection (opaque token)',
      concurrency,
      worker: (loop) => introspectOpaqueToken(run, loop),
    });
  }
  for (const concurrency of [1, 4]) {
    // Each sign-in costs an argon2id verification (tens of ms of CPU): twice the time, for enough samples.
    list.push({
      workload: 'login (sign-in to tokens)',
      concurrency,
      seconds: SECONDS * 2,
      worker: async () => {
        await signIn(run.config, run.emailFor(run.signIns++));
        return true;
      },
    });
  }
  for (const { workload, path } of adminLists(run)) {
    for (const concurrency of [1, 16]) {
      list.push({
        workload,
        concurrency,
        worker: async () => {
          succeeded(await adminGet(run.server, run.adminToken, path));
          return true;
        },
      });
    }
  }
  return list;
}

/**
 * Each workload ROUNDS times on each database, alternating (empty, large,
 * large, empty, ...), before the next workload: a burst of others' load on
 * the shared machine then hits both sides of a comparison alike.
 */
async function measureAlternating(runs: Record<'empty' | 'scaled', Run>): Promise<{ empty: Measured[]; scaled: Measured[] }[]> {
  const lists = { empty: workloadsOf(runs.empty), scaled: workloadsOf(runs.scaled) };
  const rounds = Array.from({ length: ROUNDS }, () => ({ empty: [] as Measured[], scaled: [] as Measured[] }));
  for (let index = 0; index < lists.empty.length; index += 1) {
    for (let pass = 0; pass < ROUNDS; pass += 1) {
      const order: ('empty' | 'scaled')[] = pass % 2 === 0 ? ['empty', 'scaled'] : ['scaled', 'empty'];
      for (const side of order) {
        const cell = lists[side][index] as Workload;
        // Why requests failed, by reason: the error count alone does not say.
        const failures = new Map<string, number>();
        const worker = async (loop: number) => {
          try {
            return await cell.worker(loop);
          } catch (error) {
            const reason = failureReason(error);
            failures.set(reason, (failures.get(reason) ?? 0) + 1);
            return false;
          }
        };
        const result = await runLoad(
          cell.concurrency,
          { seconds: cell.seconds ?? SECONDS, maxRequests: cell.maxRequests ?? 100_000 },
          worker,
        );
        (rounds[pass] as { empty: Measured[]; scaled: Measured[] })[side][index] = { ...result, workload: cell.workload };
        console.error(
          `  ${side.padEnd(6)} ${cell.workload.padEnd(34)} c=${String(cell.concurrency).padEnd(2)} ${String(result.perSecond).padStart(5)}/s p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms errors ${result.errors}${[...failures].map(([reason, count]) => ` (${count}× ${reason})`).join('')}`,
        );
      }
    }
  }
  return rounds;
}

/** A failed request's reason on one line: a socket error's code (fetch's is on its cause), else the first line of the message. */
function failureReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? (error as { cause?: NodeJS.ErrnoException } | undefined)?.cause?.code;
  if (code && /^E[A-Z]+$/.test(code)) return code;
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? '').slice(0, 160);
}

/** Per workload and concurrency, the round with the lowest p50 (and lowest p99) on each database. */
function bestOf(rounds: { empty: Measured[]; scaled: Measured[] }[]): Cell[] {
  const first = rounds[0]?.empty ?? [];
  return first.map((cell, index) => {
    const best = (side: 'empty' | 'scaled') => {
      const runs = rounds.map((round) => round[side][index] as Measured);
      const byP50 = runs.reduce((a, b) => (b.p50Ms < a.p50Ms ? b : a));
      return { ...byP50, p99Ms: Math.min(...runs.map((run) => run.p99Ms)), perSecond: Math.max(...runs.map((run) => run.perSecond)) };
    };
    const empty = best('empty');
    const scaled = best('scaled');
    return {
      workload: cell.workload,
      concurrency: cell.concurrency,
      empty,
      scaled,
      p50Ratio: round(scaled.p50Ms / Math.max(empty.p50Ms, 0.01), 2),
      p99Ratio: round(scaled.p99Ms / Math.max(empty.p99Ms, 0.01), 2),
    };
  });
}

/**
 * One pass of the cleanup job's deletes at its default pace, timed, with
 * introspection requests (each a read of oidc_payloads, the table the pass
 * deletes from) sent one after the other during the pass, and for as many
 * seconds before it: their latencies with and without a pass running.
 */
async function cleanupPass(databaseUrl: string, run: Run) {
  const introspect = () => introspectOpaqueToken(run, 0);
  const requestsBefore = await runLoad(1, { seconds: SECONDS, maxRequests: 100_000 }, introspect);
  const prisma = createPrismaClient(databaseUrl, { queryTimeout: 300, connectTimeout: 10 });
  try {
    let passing = true;
    const started = performance.now();
    const pass = deleteExpiredRows(prisma).finally(() => {
      passing = false;
    });
    const latencies: number[] = [];
    let errors = 0;
    while (passing) {
      const sent = performance.now();
      if (!(await introspect().catch(() => false))) errors += 1;
      latencies.push(performance.now() - sent);
    }
    const deleted = await pass;
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const percentile = (p: number) => round(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0, 2);
    return {
      deleted,
      seconds: round(seconds, 2),
      msPer1000Rows: round((seconds * 1e6) / Math.max(1, deleted), 1),
      requestsBefore: {
        requests: requestsBefore.requests,
        errors: requestsBefore.errors,
        p50Ms: requestsBefore.p50Ms,
        p99Ms: requestsBefore.p99Ms,
      },
      requestsDuringPass: { requests: latencies.length, errors, p50Ms: percentile(50), p99Ms: percentile(99) },
    };
  } finally {
    await prisma.$disconnect();
  }
}

async function tableSizes(client: pg.Client) {
  const { rows } = await client.query<{ table: string; rows: string; mib: string }>(
    `SELECT c.relname AS table, c.reltuples::bigint AS rows, round(pg_total_relation_size(c.oid) / 1048576.0) AS mib
       FROM pg_class c WHERE c.relname IN ('users','clients','resources','oidc_payloads','events') ORDER BY c.relname`,
  );
  return rows.map((row) => ({ table: row.table, rows: Number(row.rows), totalMiB: Number(row.mib) }));
}

function printTable(results: {
  machine: { cpu: string; cores: number; node: string; loadAverageAtStart: number; loadAverageAtEnd: number };
  sizes: ScaleSizes;
  seedSeconds: number;
  cells: Cell[];
  cleanup: Record<'empty' | 'scaled', Awaited<ReturnType<typeof cleanupPass>>>;
}): void {
  const { machine, sizes, cells, cleanup } = results;
  console.log(
    `\nGatehouse at scale on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node} (1-min load average ${machine.loadAverageAtStart} at start, ${machine.loadAverageAtEnd} at end)`,
  );
  console.log(
    `large database: ${sizes.users} users, ${sizes.clients} clients, ${sizes.apis} APIs, ${sizes.protocolRows} protocol rows (seeded in ${results.seedSeconds} s)\n`,
  );
  const header = ['workload', 'conc.', 'empty p50', 'large p50', 'ratio', 'empty p99', 'large p99', 'ratio', 'empty req/s', 'large req/s'];
  const rows = cells.map((cell) => [
    cell.workload,
    String(cell.concurrency),
    `${cell.empty.p50Ms} ms`,
    `${cell.scaled.p50Ms} ms`,
    `${cell.p50Ratio.toFixed(2)}${cell.p50Ratio > GOAL ? ' !' : ''}`,
    `${cell.empty.p99Ms} ms`,
    `${cell.scaled.p99Ms} ms`,
    `${cell.p99Ratio.toFixed(2)}${cell.p99Ratio > GOAL ? ' !' : ''}`,
    String(cell.empty.perSecond),
    String(cell.scaled.perSecond),
  ]);
  rows.push([
    'cleanup pass (ms per 1000 expired rows)',
    '',
    `${cleanup.empty.msPer1000Rows}`,
    `${cleanup.scaled.msPer1000Rows}`,
    (cleanup.scaled.msPer1000Rows / Math.max(cleanup.empty.msPer1000Rows, 0.01)).toFixed(2),
    `${cleanup.empty.deleted} rows`,
    `${cleanup.scaled.deleted} rows`,
    '',
    `${cleanup.empty.seconds} s`,
    `${cleanup.scaled.seconds} s`,
  ]);
  rows.push([
    'introspection during the cleanup pass',
    '1',
    `${cleanup.empty.requestsDuringPass.p50Ms} ms`,
    `${cleanup.scaled.requestsDuringPass.p50Ms} ms`,
    '',
    `${cleanup.empty.requestsDuringPass.p99Ms} ms`,
    `${cleanup.scaled.requestsDuringPass.p99Ms} ms`,
    '',
    `${cleanup.empty.requestsDuringPass.requests} req`,
    `${cleanup.scaled.requestsDuringPass.requests} req`,
  ]);
  rows.push([
    'introspection just before it',
    '1',
    `${cleanup.empty.requestsBefore.p50Ms} ms`,
    `${cleanup.scaled.requestsBefore.p50Ms} ms`,
    '',
    `${cleanup.empty.requestsBefore.p99Ms} ms`,
    `${cleanup.scaled.requestsBefore.p99Ms} ms`,
    '',
    '',
    '',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log(
    `\nBest of ${ROUNDS} runs per cell, alternating between the databases; ratio = large ÷ empty (goal ≤ ${GOAL}; "!" marks a miss).`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:scale failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
