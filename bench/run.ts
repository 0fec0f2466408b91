import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
import { measureArgon2Rate } from './argon2-rate.js';
import { createHttpClient, type RotatingHeader, round, runLoad, runWrk, wrkAvailable } from './load.js';
import { measured, rss, startServer, type Measured, type MeasuredDatabase, type ServerProcess } from './server-process.js';
import { REDIRECT_URI, signInForRefreshToken, signInThroughForm } from './sign-in.js';
import { measureSigning } from './signing-limit.js';

/**
 * `npm run bench`: Gatehouse (its compiled build, on embedded Postgres) and
 * the bare oidc-provider engine (bench/bare-engine.mjs), measured in the same
 * run on this machine, against this machine's RS256 signing limit and argon2id
 * verify rate. Not a test: no thresholds.
 */
const SECRET = 'benchmark-secret-that-is-at-least-32-characters';
const API = 'https://bench-api.example.test/';
const CC_CONCURRENCY = [16, 64] as const;
/**
 * Client credentials also with this many services, each request from the next
 * one in turn (c=16, after the one-service runs): what a token costs once more
 * clients are in use than the engine's own cache of built clients keeps (100
 * to 200), against the one-service cell.
 */
const SERVICES = 300;
const REFRESH_CONCURRENCY = [16, 64] as const;
/** Refresh tokens beyond one per wrk connection: a chain broken by an error takes one (runWrk's TokenChain). */
const WRK_RESERVE_TOKENS = 8;
const LOGIN_CONCURRENCY = 16;
const SECONDS = Number(process.env.BENCH_SECONDS ?? '6');
const WARM_UP_SECONDS = Number(process.env.BENCH_WARM_UP_SECONDS ?? '2');
/** Gatehouse and the bare engine alternate round after round; each figure is the best round's: others' load on a shared machine only ever lowers a figure. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '2');
/** BENCH_CLUSTER=1 adds Gatehouse as a node:cluster of one worker per core (client credentials and refresh). */
const CLUSTER = process.env.BENCH_CLUSTER === '1';
/** The production entry's heap and JIT flags (Dockerfile's CMD, docs/performance.md): they keep peak RSS under 200 MB. */
const PRODUCTION_FLAGS = [
  '--max-semi-space-size=8',
  '--max-old-space-size=128',
  '--heap-growing-percent=60',
  '--no-maglev',
  '--require',
  './bin/threadpool.cjs',
];
/** Extra node flags for Gatehouse's process, e.g. BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const NODE_FLAGS = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const WORKLOADS = ['client_credentials', 'refresh_token', 'password_login'] as const;
/**
 * BENCH_ONLY=client_credentials, refresh_token or password_login: that
 * workload alone (a quick A/B while profiling; only client_credentials runs
 * the bare engine too); bench/results/latest.json is then left as it is.
 */
const ONLY = process.env.BENCH_ONLY || undefined;
if (ONLY !== undefined && !(WORKLOADS as readonly string[]).includes(ONLY))
  throw new Error(`BENCH_ONLY must be one of ${WORKLOADS.join(', ')}, not ${ONLY}`);
const measures = (workload: (typeof WORKLOADS)[number]) => ONLY === undefined || ONLY === workload;
const MAX_REQUESTS = 500_000;
/** wrk sends the client-credentials and refresh loads when installed (`apt-get install wrk`); BENCH_LOAD=node uses node:http instead. */
const USE_WRK = process.env.BENCH_LOAD !== 'node' && wrkAvailable();
const PASSWORD = 'benchmark password long enough';
const USERS = Math.max(...CC_CONCURRENCY, ...REFRESH_CONCURRENCY, LOGIN_CONCURRENCY);
const benchUser = (index: number) => `bench-${index}@example.test`;
/** Gatehouse's default password parameters (GATEHOUSE_ARGON2_*): the argon2 rate is measured with them. */
const ARGON2 = { memoryCost: 19456, timeCost: 2, parallelism: 1 };
const root = new URL('../', import.meta.url);
/** The embedded Postgres, once started. */
let database: MeasuredDatabase | undefined;

type WithRatio = Measured & { ratio: number };

interface GatehouseResult {
  readonly mode: string;
  readonly serverProcesses: number;
  readonly idleRssMiB: number;
  /** VmHWM right after the client-credentials runs: the peak the issue's 200 MB goal is about. */
  readonly clientCredentialsPeakRssMiB: number;
  /** VmHWM at the end (refresh and logins included: argon2 holds 19 MiB per verification). */
  readonly peakRssMiB: number;
  readonly clientCredentials: WithRatio[];
  /** Client credentials with SERVICES services in turn, at c=16. */
  readonly clientCredentialsManyServices: WithRatio[];
  readonly refreshToken: WithRatio[];
  readonly passwordLogin: WithRatio[];
}

interface BareResult {
  readonly mode: string;
  readonly idleRssMiB: number;
  readonly peakRssMiB: number;
  readonly clientCredentials: WithRatio[];
}

interface Setup {
  readonly service: { client_id: string; client_secret?: string | null };
  /** SERVICES services like `service`, for the many-services run. */
  readonly services: readonly { client_id: string; client_secret?: string | null }[];
  readonly app: { client_id: string; client_secret?: string | null };
  readonly loginApp: { client_id: string };
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  // Others' work on a shared machine skews every figure: recorded with them.
  const loadAverageAtStart = loadavg().map((value) => round(value, 2));
  console.error('building Gatehouse (npm run build)…');
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');

  console.error('measuring the RS256 signing limit on one core, then on every core at once…');
  // Each round's own readings; the run's limits are the highest of them, and a round's ratios use the highest so far.
  const signingRounds: { perCore: number; allCores: number }[] = [];
  const readSigningLimits = async () => {
    const reading = { perCore: await measureSigning(2048, 1, 2), allCores: await measureSigning(2048, cores, 2) };
    signingRounds.push(reading);
    console.error(`  RS256: ${reading.perCore} signatures/s on one core alone, ${reading.allCores}/s on ${cores} cores at once`);
    return reading;
  };
  const firstSigning = await readSigningLimits();
  let signingLimit = firstSigning.perCore;
  let signingAllCores = firstSigning.allCores;
  console.error(
    `measuring argon2id verifications on ${cores} cores (${ARGON2.memoryCost} KiB, t=${ARGON2.timeCost}, p=${ARGON2.parallelism})…`,
  );
  const argon2 = await measureArgon2Rate(ARGON2, cores, 3);
  let argon2Rate = argon2.perSecond;
  let argon2CpuMs = argon2.cpuMsPerVerify;
  console.error(`  ${argon2Rate} verifications/s, ${argon2CpuMs} CPU ms each`);

  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  const postgres = await startEmbeddedPostgres({ dataDir, database: 'gatehouse' });
  // Postgres's CPU is measured beside the server's (on the same cores, and part of a refresh's cost), and its write-ahead log.
  const postmasterPid = Number((await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8')).split('\n')[0]);
  const walClient = new pg.Client({ connectionString: postgres.connectionString });
  await walClient.connect();
  database = {
    postmasterPid,
    settle: async () => {
      await walClient.query('VACUUM');
      await walClient.query('CHECKPOINT');
    },
    walPosition: async () =>
      (await walClient.query<{ position: number }>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS position")).rows[0]
        ?.position ?? 0,
  };
  const gatehouseRounds: GatehouseResult[][] = [];
  const bareRounds: BareResult[] = [];
  try {
    await applyMigrations(postgres.connectionString);
    const setup = await setUp(postgres.connectionString);
    // One port, so one ISSUER, for every start: the database refuses a second issuer.
    const port = await findFreePort();
    const limits = () => ({ signing: signingAllCores, argon2: argon2Rate });
    for (let pass = 1; pass <= ROUNDS; pass += 1) {
      if (pass > 1) {
        const again = await readSigningLimits();
        signingLimit = Math.max(signingLimit, again.perCore);
        signingAllCores = Math.max(signingAllCores, again.allCores);
        const argon2Again = await measureArgon2Rate(ARGON2, cores, 2);
        argon2Rate = Math.max(argon2Rate, argon2Again.perSecond);
        argon2CpuMs = Math.min(argon2CpuMs, argon2Again.cpuMsPerVerify);
      }
      const modes: GatehouseResult[] = [];
      // Alternate which goes first, so neither always meets the same neighbours' load.
      if (pass % 2 === 0 && measures('client_credentials')) bareRounds.push(await measureBareEngine(setup, limits()));
      modes.push(await measureGatehouse(postgres.connectionString, port, setup, 0, limits()));
      if (CLUSTER) modes.push(await measureGatehouse(postgres.connectionString, port, setup, cores, limits()));
      if (pass % 2 === 1 && measures('client_credentials')) bareRounds.push(await measureBareEngine(setup, limits()));
      gatehouseRounds.push(modes);
    }
  } finally {
    await walClient.end();
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  if (!measures('client_credentials')) return;
  const limits = { signing: signingAllCores, argon2: argon2Rate };
  const gatehouse = (gatehouseRounds[0] ?? []).map((_, index) =>
    bestGatehouse(
      gatehouseRounds.map((modes) => modes[index] as GatehouseResult),
      limits,
    ),
  );
  const bare = bestBare(bareRounds, limits);
  const single = gatehouse[0] as GatehouseResult;
  const results = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      kernel: release(),
      // 1, 5 and 15-minute load averages: above the core count, others were running too and every rate is depressed.
      loadAverageAtStart,
      loadAverageAtEnd: loadavg().map((value) => round(value, 2)),
    },
    settings: {
      secondsPerRun: SECONDS,
      warmUpSeconds: WARM_UP_SECONDS,
      rounds: ROUNDS,
      keyBits: 2048,
      argon2: ARGON2,
      loadGenerator: `client credentials: ${USE_WRK ? 'wrk (one thread)' : 'node:http'}, keep-alive, HTTP Basic client auth, same machine; refresh: ${USE_WRK ? "wrk (one thread; a pool of refresh tokens, one per connection plus 8 in reserve, each answer's token back into it)" : 'node:http keep-alive (each loop keeps its own token chain)'}; logins: node:http keep-alive with a cookie jar (the four requests of the form)`,
      figures: 'best round per cell; ratio = requests/s ÷ limit measured in this run',
      gatehouse: `node ${PRODUCTION_FLAGS.join(' ')} dist/main.js (npm run build), NODE_ENV=production, embedded Postgres 18, log level info to /dev/null`,
      bareEngine: 'node bench/bare-engine.mjs: oidc-provider alone, in-memory adapter, static client, same JWT shape',
      manyServices: `client credentials at c=16 with ${SERVICES} registered services, each request from the next in turn (after a warm-up that has each ask); Gatehouse only`,
    },
    // The ratios' limit is allCores, measured with every core signing at once (as the argon2 rate is); before
    // 2026-12-03 it was perCore × cores (perCoreTimesCores), which a virtual machine's cores may not reach together.
    // Each is the highest of the rounds' readings (`rounds`).
    signingLimit: {
      perCore: signingLimit,
      allCores: signingAllCores,
      perCoreTimesCores: signingLimit * cores,
      msPerSignature: round(1000 / signingLimit, 3),
      rounds: signingRounds,
    },
    argon2VerifiesPerSecond: argon2Rate,
    argon2CpuMsPerVerify: argon2CpuMs,
    // Steadier than rates on a shared machine: CPU per request against the limit's own CPU.
    cpuFigures: {
      clientCredentialsNonSigningCpuMs: single.clientCredentials.map((run) => ({
        concurrency: run.concurrency,
        ms: round(run.serverCpuMsPerRequest - 1000 / signingLimit, 3),
      })),
      signatureCpuMs: round(1000 / signingLimit, 3),
      // Flat costs as clients grow: a token's CPU with SERVICES services in turn over one service's, both at c=16,
      // within each round (the two cells' best rounds may differ), and the median of the rounds.
      manyServicesCpuOverOneService: manyServicesRatios(gatehouseRounds.map((modes) => modes[0] as GatehouseResult)),
      refreshNonSigningCpuMs: single.refreshToken.map((run) => ({
        concurrency: run.concurrency,
        ms: round(run.serverCpuMsPerRequest - 2000 / signingLimit, 3),
      })),
      // A login's CPU that is argon2's: ≥ 0.8 means the rest of a login costs under a quarter of a verification.
      loginArgon2CpuShare: single.passwordLogin.map((run) => ({
        concurrency: run.concurrency,
        share: round(argon2CpuMs / Math.max(0.001, run.serverCpuMsPerRequest), 3),
      })),
    },
    gatehouse,
    bareEngine: bare,
    comparison: CC_CONCURRENCY.map((concurrency, index) => ({
      concurrency,
      gatehousePerSecond: single.clientCredentials[index]?.perSecond,
      bareEnginePerSecond: bare.clientCredentials[index]?.perSecond,
      gatehouseOverBare: round(
        (single.clientCredentials[index]?.perSecond ?? 0) / Math.max(1, bare.clientCredentials[index]?.perSecond ?? 0),
        3,
      ),
      gatehouseCpuMs: single.clientCredentials[index]?.serverCpuMsPerRequest,
      bareEngineCpuMs: bare.clientCredentials[index]?.serverCpuMsPerRequest,
    })),
    rounds: { gatehouse: gatehouseRounds, bareEngine: bareRounds },
  };
  printTable(results);
  if (ONLY) return;
  await mkdir(new URL('bench/results/', root), { recursive: true });
  await writeFile(new URL('bench/results/latest.json', root), `${JSON.stringify(results, null, 2)}\n`);
  console.log('\nwrote bench/results/latest.json');
}

/** The API, a client-credentials service, an app for refresh tokens, a first-party app for logins, and a user. */
async function setUp(databaseUrl: string): Promise<Setup> {
  const prisma = createPrismaClient(databaseUrl);
  try {
    const secrets = deriveSecrets(SECRET);
    const clients = createClientService(prisma, secrets.clientSecretKey);
    await createResourceService(prisma).createResource({
      identifier: API,
      name: 'Bench API',
      scopes: ['bench:read', 'bench:write'],
      access_token_ttl: 600,
    });
    const service = await clients.registerClient({
      client_name: 'Bench service',
      grant_types: ['client_credentials'],
      api_access: [{ resource: API, scopes: ['bench:read'] }],
      default_resource: API,
    });
    const services: Setup['services'][number][] = [];
    while (services.length < SERVICES)
      services.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(10, SERVICES - services.length) }, (_, offset) =>
            clients.registerClient({
              client_name: `Bench service ${services.length + offset + 1}`,
              grant_types: ['client_credentials'],
              api_access: [{ resource: API, scopes: ['bench:read'] }],
              default_resource: API,
            }),
          ),
        )),
      );
    const app = await clients.registerClient({
      client_name: 'Bench app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      api_access: [{ resource: API, scopes: ['bench:read'] }],
    });
    const loginApp = await clients.registerClient({
      client_name: 'Bench login app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      first_party: true,
    });
    const users = createUserService(prisma, createPasswordHasher(ARGON2));
    // One user per loop: sign-in throttling counts an attempt before the
    // password is checked, so one account signing in 16 times at once would be throttled.
    for (let index = 0; index < USERS; index += 8)
      await Promise.all(
        Array.from({ length: 8 }, (_, offset) =>
          users.createUser({ email: benchUser(index + offset), password: PASSWORD, emailVerified: true }),
        ),
      );
    return { service, services, app, loginApp };
  } finally {
    await prisma.$disconnect();
  }
}

const basicAuth = (client: { client_id: string; client_secret?: string | null }) =>
  `Basic ${Buffer.from(`${client.client_id}:${client.client_secret ?? ''}`).toString('base64')}`;

/**
 * Client credentials at each of `concurrencies`, after a warm-up: the token
 * shape is the same for Gatehouse and the bare engine. Each request comes
 * from the next of `clients` (HTTP Basic headers) in turn; each of them asks
 * once first, so every client is in the server's caches before the timed
 * warm-up. Sent by wrk when it is installed (the issue's load generator),
 * else by node:http (BENCH_LOAD=node forces it).
 */
async function clientCredentialsRuns(
  server: ServerProcess,
  clients: readonly string[],
  concurrencies: readonly number[],
  signing: number,
): Promise<WithRatio[]> {
  const workload = clients.length === 1 ? 'client_credentials' : `client_credentials, ${clients.length} services`;
  const form = { grant_type: 'client_credentials', scope: 'bench:read' };
  const http = createHttpClient(server.url, 128);
  try {
    let turn = 0;
    const token = async () =>
      (await http.postForm('/token', form, { authorization: clients[turn++ % clients.length] as string })).status === 200;
    // One client: a fixed header, so wrk's script has no per-request Lua to run.
    const authorization: { headers: Record<string, string>; rotate?: RotatingHeader } =
      clients.length === 1
        ? { headers: { Authorization: clients[0] as string } }
        : { headers: {}, rotate: { name: 'Authorization', values: clients } };
    const run = (concurrency: number, seconds: number) =>
      USE_WRK
        ? runWrk(server.url, concurrency, seconds, { path: '/token', form, ...authorization })
        : runLoad(concurrency, { seconds, maxRequests: MAX_REQUESTS }, token);
    const eachOnce = await runLoad(16, { seconds: 120, maxRequests: clients.length }, token);
    if (eachOnce.errors > 0) throw new Error(`${eachOnce.errors} of ${clients.length} clients got no token in the warm-up`);
    await run(16, WARM_UP_SECONDS);
    const results: WithRatio[] = [];
    for (const concurrency of concurrencies) {
      const result = await measured(server.pids, () => run(concurrency, SECONDS), database);
      results.push({ ...result, ratio: round(result.perSecond / signing, 3) });
      report(workload, result);
    }
    return results;
  } finally {
    http.close();
  }
}

async function measureGatehouse(
  databaseUrl: string,
  port: number,
  setup: Setup,
  workers: number,
  limits: { signing: number; argon2: number },
): Promise<GatehouseResult> {
  const mode = workers ? `Gatehouse, node:cluster of ${workers}` : 'Gatehouse';
  console.error(`\n${mode}: starting…`);
  const server = await startServer(
    root,
    workers ? 'bench/cluster.mjs' : 'dist/main.js',
    {
      DATABASE_URL: databaseUrl,
      GATEHOUSE_SECRET: SECRET,
      BENCH_WORKERS: String(workers),
      // The login workload starts every sign-in from one address.
      GATEHOUSE_FLOW_STARTS_PER_IP: '1000000',
    },
    { nodeFlags: [...PRODUCTION_FLAGS, ...NODE_FLAGS], waitForReadyLine: workers > 0, port },
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleRssMiB = (await rss(server.pids)).nowMiB;
    const clientCredentials = measures('client_credentials')
      ? await clientCredentialsRuns(server, [basicAuth(setup.service)], CC_CONCURRENCY, limits.signing)
      : [];
    const clientCredentialsPeakRssMiB = (await rss(server.pids)).peakMiB;
    // After the peak the memory goal is about is read, so that figure stays the one-service runs' as before.
    const clientCredentialsManyServices = measures('client_credentials')
      ? await clientCredentialsRuns(server, setup.services.map(basicAuth), [16], limits.signing)
      : [];
    if (ONLY === 'client_credentials') {
      // Each round's own figures: the summary keeps only the highest peak.
      console.error(`  RSS idle ${idleRssMiB} MiB, peak ${clientCredentialsPeakRssMiB} MiB after client credentials`);
      return {
        mode,
        serverProcesses: server.pids.length,
        idleRssMiB,
        clientCredentialsPeakRssMiB,
        peakRssMiB: (await rss(server.pids)).peakMiB,
        clientCredentials,
        clientCredentialsManyServices,
        refreshToken: [],
        passwordLogin: [],
      };
    }

    const refreshToken: WithRatio[] = [];
    const config = await oidc.discovery(
      new URL(server.url),
      setup.app.client_id,
      {},
      oidc.ClientSecretBasic(setup.app.client_secret ?? ''),
      {
        execute: [oidc.allowInsecureRequests],
      },
    );
    const http = createHttpClient(server.url, 128);
    const appBasic = basicAuth(setup.app);
    try {
      for (const concurrency of measures('refresh_token') ? REFRESH_CONCURRENCY : []) {
        // One refresh-token chain per loop: each refresh consumes its token and returns the next.
        // wrk takes one more token than its connections, and a reserve for chains an error breaks (runWrk's TokenChain).
        const chainCount = USE_WRK ? concurrency + 1 + WRK_RESERVE_TOKENS : concurrency;
        const chains: string[] = [];
        while (chains.length < chainCount) {
          const batch = await Promise.all(
            Array.from({ length: Math.min(8, chainCount - chains.length) }, (_, offset) =>
              signInForRefreshToken(config, { email: benchUser((chains.length + offset) % USERS), password: PASSWORD, resource: API }),
            ),
          );
          chains.push(...batch);
        }
        const result = await measured(
          server.pids,
          () =>
            USE_WRK
              ? runWrk(server.url, concurrency, SECONDS, {
                  path: '/token',
                  headers: { Authorization: appBasic },
                  form: { grant_type: 'refresh_token', resource: API },
                  chain: { field: 'refresh_token', tokens: chains },
                })
              : runLoad(concurrency, { seconds: SECONDS, maxRequests: MAX_REQUESTS }, async (loop) => {
                  const answer = await http.postForm(
                    '/token',
                    { grant_type: 'refresh_token', refresh_token: chains[loop] as string, resource: API },
                    { authorization: appBasic },
                  );
                  if (answer.status !== 200) return false;
                  chains[loop] = (JSON.parse(answer.body) as { refresh_token: string }).refresh_token;
                  return true;
                }),
          database,
        );
        refreshToken.push({ ...result, ratio: round(result.perSecond / limits.signing, 3) });
        report('refresh_token', result);
      }
    } finally {
      http.close();
    }

    const passwordLogin: WithRatio[] = [];
    if (!workers && measures('password_login')) {
      const http = createHttpClient(server.url, LOGIN_CONCURRENCY);
      try {
        const result = await measured(
          server.pids,
          () =>
            runLoad(LOGIN_CONCURRENCY, { seconds: SECONDS, maxRequests: MAX_REQUESTS }, (loop) =>
              signInThroughForm(http, { clientId: setup.loginApp.client_id, email: benchUser(loop), password: PASSWORD }),
            ),
          database,
        );
        passwordLogin.push({ ...result, ratio: round(result.perSecond / limits.argon2, 3) });
        report('password_login', result);
      } finally {
        http.close();
      }
    }
    const { peakMiB } = await rss(server.pids);
    console.error(`  RSS idle ${idleRssMiB} MiB, peak ${clientCredentialsPeakRssMiB} MiB after client credentials, ${peakMiB} MiB overall`);
    return {
      mode,
      serverProcesses: server.pids.length,
      idleRssMiB,
      clientCredentialsPeakRssMiB,
      peakRssMiB: peakMiB,
      clientCredentials,
      clientCredentialsManyServices,
      refreshToken,
      passwordLogin,
    };
  } finally {
    await server.stop();
  }
}

async function measureBareEngine(setup: Setup, limits: { signing: number }): Promise<BareResult> {
  console.error('\nbare oidc-provider: starting…');
  const secret = 'bare-engine-secret';
  const server = await startServer(
    root,
    'bench/bare-engine.mjs',
    { BENCH_CLIENT_ID: setup.service.client_id, BENCH_CLIENT_SECRET: secret, BENCH_API: API },
    { waitForReadyLine: true, nodeFlags: (process.env.BENCH_BARE_NODE_FLAGS ?? '').split(' ').filter(Boolean) },
  );
  try {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleRssMiB = (await rss(server.pids)).nowMiB;
    const clientCredentials = await clientCredentialsRuns(
      server,
      [basicAuth({ client_id: setup.service.client_id, client_secret: secret })],
      CC_CONCURRENCY,
      limits.signing,
    );
    const { peakMiB } = await rss(server.pids);
    console.error(`  RSS idle ${idleRssMiB} MiB, peak ${peakMiB} MiB`);
    return { mode: 'bare oidc-provider', idleRssMiB, peakRssMiB: peakMiB, clientCredentials };
  } finally {
    await server.stop();
  }
}

function report(workload: string, result: Measured): void {
  console.error(
    `  ${workload} c=${result.concurrency}: ${result.perSecond}/s p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms, ${result.serverCpuMsPerRequest} CPU ms/req (event loop ${result.eventLoopCpuMsPerRequest})${result.databaseCpuMsPerRequest === undefined ? '' : `, Postgres ${result.databaseCpuMsPerRequest} CPU ms/req`}${result.walBytesPerRequest === undefined ? '' : `, WAL ${result.walBytesPerRequest} B/req`}, load generator ${result.loadGeneratorCores} cores, machine idle ${result.machineIdleShare} steal ${result.machineStealShare}, errors ${result.errors}`,
  );
}

/** The run with the most requests per second, its ratio against the run's best limit. */
function best(runs: WithRatio[], limit: number): WithRatio {
  const top = runs.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  return { ...top, ratio: round(top.perSecond / limit, 3) };
}

function bestGatehouse(rounds: GatehouseResult[], limits: { signing: number; argon2: number }): GatehouseResult {
  const first = rounds[0] as GatehouseResult;
  const cell = (pick: (result: GatehouseResult) => WithRatio[], index: number, limit: number) => {
    const fastest = best(
      rounds.map((result) => pick(result)[index] as WithRatio),
      limit,
    );
    // What a request writes grows with the tables, round after round, whichever is fastest:
    // the first round's, measured at the same point of every run (each round's is in `rounds`).
    const walBytesPerRequest = pick(first)[index]?.walBytesPerRequest;
    return walBytesPerRequest === undefined ? fastest : { ...fastest, walBytesPerRequest };
  };
  return {
    mode: first.mode,
    serverProcesses: first.serverProcesses,
    idleRssMiB: Math.max(...rounds.map((result) => result.idleRssMiB)),
    clientCredentialsPeakRssMiB: Math.max(...rounds.map((result) => result.clientCredentialsPeakRssMiB)),
    peakRssMiB: Math.max(...rounds.map((result) => result.peakRssMiB)),
    clientCredentials: first.clientCredentials.map((_, index) => cell((result) => result.clientCredentials, index, limits.signing)),
    clientCredentialsManyServices: first.clientCredentialsManyServices.map((_, index) =>
      cell((result) => result.clientCredentialsManyServices, index, limits.signing),
    ),
    refreshToken: first.refreshToken.map((_, index) => cell((result) => result.refreshToken, index, limits.signing)),
    passwordLogin: first.passwordLogin.map((_, index) => cell((result) => result.passwordLogin, index, limits.argon2)),
  };
}

function bestBare(rounds: BareResult[], limits: { signing: number }): BareResult {
  const first = rounds[0] as BareResult;
  return {
    mode: first.mode,
    idleRssMiB: Math.max(...rounds.map((result) => result.idleRssMiB)),
    peakRssMiB: Math.max(...rounds.map((result) => result.peakRssMiB)),
    clientCredentials: first.clientCredentials.map((_, index) =>
      best(
        rounds.map((result) => result.clientCredentials[index] as WithRatio),
        limits.signing,
      ),
    ),
  };
}

function manyServicesRatios(rounds: GatehouseResult[]): { services: number; concurrency: number; rounds: number[]; median: number }[] {
  const concurrency = rounds[0]?.clientCredentialsManyServices[0]?.concurrency;
  const ratios = rounds.flatMap((result) => {
    const many = result.clientCredentialsManyServices[0];
    const one = result.clientCredentials.find((run) => run.concurrency === many?.concurrency);
    return many && one ? [round(many.serverCpuMsPerRequest / Math.max(0.001, one.serverCpuMsPerRequest), 3)] : [];
  });
  if (concurrency === undefined || ratios.length === 0) return [];
  const sorted = [...ratios].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  return [{ services: SERVICES, concurrency, rounds: ratios, median: round(median, 3) }];
}

function printTable(results: {
  machine: { cpu: string; cores: number; node: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  signingLimit: { perCore: number; allCores: number; perCoreTimesCores: number; msPerSignature: number };
  argon2VerifiesPerSecond: number;
  argon2CpuMsPerVerify: number;
  cpuFigures: {
    clientCredentialsNonSigningCpuMs: { concurrency: number; ms: number }[];
    signatureCpuMs: number;
    manyServicesCpuOverOneService: { services: number; concurrency: number; rounds: number[]; median: number }[];
    refreshNonSigningCpuMs: { concurrency: number; ms: number }[];
    loginArgon2CpuShare: { concurrency: number; share: number }[];
  };
  gatehouse: GatehouseResult[];
  bareEngine: BareResult;
  comparison: { concurrency: number; gatehouseOverBare: number }[];
}): void {
  const { machine, signingLimit } = results;
  console.log(
    `\nBenchmark on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average ${machine.loadAverageAtStart.join(' ')} at start, ${machine.loadAverageAtEnd.join(' ')} at end`,
  );
  console.log(
    `Limits of this run (the highest of its rounds): RS256 ${signingLimit.perCore}/s on one core alone (${signingLimit.msPerSignature} ms each), ${signingLimit.allCores}/s on ${machine.cores} cores at once (${round(signingLimit.allCores / signingLimit.perCoreTimesCores, 3)} of ${signingLimit.perCoreTimesCores}/s, one core alone × ${machine.cores}); argon2id ${results.argon2VerifiesPerSecond} verifications/s on ${machine.cores} cores (${results.argon2CpuMsPerVerify} CPU ms each)\n`,
  );
  const header = [
    'server',
    'workload',
    'conc.',
    'req/s',
    'ratio',
    'p50 ms',
    'p99 ms',
    'errors',
    'CPU ms/req',
    'loop ms/req',
    'Postgres ms/req',
    'WAL B/req',
    'server cores',
  ];
  const rows: string[][] = [];
  const add = (server: string, workload: string, runs: WithRatio[]) => {
    for (const run of runs) {
      rows.push([
        server,
        workload,
        String(run.concurrency),
        String(run.perSecond),
        run.ratio.toFixed(3),
        String(run.p50Ms),
        String(run.p99Ms),
        String(run.errors),
        String(run.serverCpuMsPerRequest),
        String(run.eventLoopCpuMsPerRequest),
        String(run.databaseCpuMsPerRequest ?? '-'),
        String(run.walBytesPerRequest ?? '-'),
        String(run.serverCores),
      ]);
    }
  };
  for (const mode of results.gatehouse) {
    add(mode.mode, 'client_credentials', mode.clientCredentials);
    add(mode.mode, `client_credentials, ${SERVICES} services`, mode.clientCredentialsManyServices);
    add(mode.mode, 'refresh_token', mode.refreshToken);
    add(mode.mode, 'password_login', mode.passwordLogin);
  }
  add(results.bareEngine.mode, 'client_credentials', results.bareEngine.clientCredentials);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log('');
  for (const mode of results.gatehouse)
    console.log(
      `${mode.mode}: RSS idle ${mode.idleRssMiB} MiB, peak ${mode.clientCredentialsPeakRssMiB} MiB through client credentials, ${mode.peakRssMiB} MiB overall`,
    );
  console.log(`${results.bareEngine.mode}: RSS idle ${results.bareEngine.idleRssMiB} MiB, peak ${results.bareEngine.peakRssMiB} MiB`);
  console.log(
    `Gatehouse ÷ bare engine (client credentials): ${results.comparison.map((row) => `${row.gatehouseOverBare} at c=${row.concurrency}`).join(', ')}`,
  );
  const { cpuFigures } = results;
  console.log(
    `CPU per request beyond the limits' own (steadier on a shared machine): client credentials ${cpuFigures.clientCredentialsNonSigningCpuMs.map((row) => `${row.ms} ms at c=${row.concurrency}`).join(', ')} besides the ${cpuFigures.signatureCpuMs} ms signature (${cpuFigures.manyServicesCpuOverOneService.map((row) => `${row.median}× with ${row.services} services in turn, median of the rounds' ${row.rounds.join(', ')}`).join(', ')}); refresh ${cpuFigures.refreshNonSigningCpuMs.map((row) => `${row.ms} ms at c=${row.concurrency}`).join(', ')} besides two signatures; argon2 is ${cpuFigures.loginArgon2CpuShare.map((row) => row.share).join(', ')} of a login's CPU`,
  );
  console.log(
    `\nBest of ${ROUNDS} alternating rounds of ${SECONDS} s per cell. Ratios: client credentials and refresh ÷ the signing limit on ${machine.cores} cores at once (a refresh signs twice: access token and ID token); logins ÷ the argon2id rate.`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
