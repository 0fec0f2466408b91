import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { createPasswordHasher } from '../src/accounts/passwords.js';
import { createUserService } from '../src/accounts/users.js';
import { createClientService } from '../src/clients/clients.js';
import { createResourceService } from '../src/clients/resources.js';
import { deriveSecrets } from '../src/config/master-secret.js';
import { findFreePort, startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { applyMigrations } from '../src/db/migrate.js';
import { createPrismaClient } from '../src/db/prisma.js';
import { createHttpClient, round, runLoad, type LoadResult } from './load.js';
import { REDIRECT_URI, signInForRefreshToken } from './sign-in.js';
import { measureSigningLimit } from './signing-limit.js';

/**
 * `npm run bench`: Gatehouse on embedded Postgres, measured on this machine
 * against its own RS256 signing limit. Not a test: no thresholds.
 */
const SECRET = 'benchmark-secret-that-is-at-least-32-characters';
const API = 'https://bench-api.example.test/';
const CONCURRENCY = [1, 16, 64] as const;
const SECONDS = Number(process.env.BENCH_SECONDS ?? '4');
/** Modes alternate round after round and each figure is the best round's: others' load on a shared machine only ever lowers a figure. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '2');
const MAX_REQUESTS = 200_000;
const PASSWORD = 'benchmark password long enough';
const root = new URL('../', import.meta.url);

type Measured = LoadResult & { serverCpuMsPerRequest: number; serverCores: number };

interface ModeResult {
  readonly mode: string;
  readonly serverProcesses: number;
  readonly clientCredentials: (Measured & { ratio: number })[];
  readonly refreshToken: Measured[];
  readonly jwks: Measured[];
  readonly peakRssMiB: number;
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  // Others' work on a shared machine skews every figure: recorded with them.
  const loadAverageAtStart = round(loadavg()[0] ?? 0, 2);
  console.error(`measuring the RS256 signing limit on one core…`);
  let signingLimit = measureSigningLimit(2048, 3);
  console.error(`  ${signingLimit} signatures/s`);

  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-bench-'));
  const postgres = await startEmbeddedPostgres({ dataDir, database: 'gatehouse' });
  const rounds: ModeResult[][] = [];
  try {
    await applyMigrations(postgres.connectionString);
    const service = await setUp(postgres.connectionString);
    for (let pass = 1; pass <= ROUNDS; pass += 1) {
      if (pass > 1) signingLimit = Math.max(signingLimit, measureSigningLimit(2048, 3));
      const modes: ModeResult[] = [];
      for (const workers of [0, cores]) modes.push(await measureMode(postgres.connectionString, workers, service, signingLimit, cores));
      rounds.push(modes);
    }
  } finally {
    await postgres.stop();
    await rm(dataDir, { recursive: true, force: true });
  }

  const results = {
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      kernel: release(),
      loadAverageAtStart,
      loadAverageAtEnd: round(loadavg()[0] ?? 0, 2),
    },
    settings: {
      secondsPerRun: SECONDS,
      rounds: ROUNDS,
      keyBits: 2048,
      loadGenerator: 'node:http keep-alive, same machine',
      figures: 'best round per cell',
    },
    signingLimitPerCore: signingLimit,
    modes: bestOf(rounds, signingLimit, cores),
    rounds,
  };
  await mkdir(new URL('bench/results/', root), { recursive: true });
  await writeFile(new URL('bench/results/latest.json', root), `${JSON.stringify(results, null, 2)}\n`);
  printTable(results.machine, signingLimit, cores, results.modes);
  console.log('\nwrote bench/results/latest.json');
}

/** The API, a client-credentials service, and an app with users for refresh tokens. */
async function setUp(databaseUrl: string) {
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
    const app = await clients.registerClient({
      client_name: 'Bench app',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const users = createUserService(prisma, createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 }));
    await users.createUser({ email: 'bench@example.test', password: PASSWORD, emailVerified: true });
    return { service, app };
  } finally {
    await prisma.$disconnect();
  }
}

async function measureMode(
  databaseUrl: string,
  workers: number,
  clients: Awaited<ReturnType<typeof setUp>>,
  signingLimit: number,
  cores: number,
): Promise<ModeResult> {
  const mode = workers ? `node:cluster, ${workers} workers` : 'single process';
  console.error(`\n${mode}: starting Gatehouse…`);
  const server = await startServer(databaseUrl, workers);
  const http = createHttpClient(server.url, 128);
  try {
    const basic = `Basic ${Buffer.from(`${clients.service.client_id}:${clients.service.client_secret}`).toString('base64')}`;
    const clientCredentials = async () => {
      const answer = await http.postForm('/token', { grant_type: 'client_credentials', scope: 'bench:read' }, { authorization: basic });
      return answer.status === 200;
    };
    await runLoad(16, { seconds: 1, maxRequests: MAX_REQUESTS }, clientCredentials); // warm-up

    const ccResults = [];
    for (const concurrency of CONCURRENCY) {
      const result = await measured(server.pids, () =>
        runLoad(concurrency, { seconds: SECONDS, maxRequests: MAX_REQUESTS }, clientCredentials),
      );
      ccResults.push({ ...result, ratio: round(result.perSecond / (signingLimit * cores), 3) });
      console.error(
        `  client_credentials c=${concurrency}: ${result.perSecond}/s p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms errors ${result.errors}`,
      );
    }

    const refreshResults = [];
    const config = await oidc.discovery(
      new URL(server.url),
      clients.app.client_id,
      {},
      oidc.ClientSecretBasic(clients.app.client_secret as string),
      { execute: [oidc.allowInsecureRequests] },
    );
    const appBasic = `Basic ${Buffer.from(`${clients.app.client_id}:${clients.app.client_secret}`).toString('base64')}`;
    for (const concurrency of CONCURRENCY) {
      // One refresh-token chain per loop: each refresh consumes its token and returns the next.
      const chains: string[] = [];
      while (chains.length < concurrency) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(4, concurrency - chains.length) }, () =>
            signInForRefreshToken(config, { email: 'bench@example.test', password: PASSWORD, resource: API }),
          ),
        );
        chains.push(...batch);
      }
      const result = await measured(server.pids, () =>
        runLoad(concurrency, { seconds: SECONDS, maxRequests: MAX_REQUESTS }, async (loop) => {
          const answer = await http.postForm(
            '/token',
            { grant_type: 'refresh_token', refresh_token: chains[loop] as string, resource: API },
            { authorization: appBasic },
          );
          if (answer.status !== 200) return false;
          chains[loop] = (JSON.parse(answer.body) as { refresh_token: string }).refresh_token;
          return true;
        }),
      );
      refreshResults.push(result);
      console.error(
        `  refresh_token c=${concurrency}: ${result.perSecond}/s p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms errors ${result.errors}`,
      );
    }

    const jwksResults = [];
    for (const concurrency of CONCURRENCY) {
      const result = await measured(server.pids, () =>
        runLoad(concurrency, { seconds: SECONDS, maxRequests: MAX_REQUESTS }, async () => (await http.get('/jwks')).status === 200),
      );
      jwksResults.push(result);
      console.error(`  jwks c=${concurrency}: ${result.perSecond}/s p50 ${result.p50Ms} ms p99 ${result.p99Ms} ms errors ${result.errors}`);
    }

    const peakRssMiB = await peakRss(server.pids);
    return {
      mode,
      serverProcesses: server.pids.length,
      clientCredentials: ccResults,
      refreshToken: refreshResults,
      jwks: jwksResults,
      peakRssMiB,
    };
  } finally {
    http.close();
    await server.stop();
  }
}

/** Per mode, endpoint and concurrency, the round with the most requests per second; the highest peak RSS. */
function bestOf(rounds: ModeResult[][], signingLimit: number, cores: number): ModeResult[] {
  const best = <T extends Measured>(runs: T[][], index: number): T =>
    runs.map((run) => run[index] as T).reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  return (rounds[0] ?? []).map((first, modeIndex) => {
    const same = rounds.map((modes) => modes[modeIndex] as ModeResult);
    return {
      mode: first.mode,
      serverProcesses: first.serverProcesses,
      clientCredentials: first.clientCredentials.map((_, index) => {
        const result = best(
          same.map((mode) => mode.clientCredentials),
          index,
        );
        return { ...result, ratio: round(result.perSecond / (signingLimit * cores), 3) };
      }),
      refreshToken: first.refreshToken.map((_, index) =>
        best(
          same.map((mode) => mode.refreshToken),
          index,
        ),
      ),
      jwks: first.jwks.map((_, index) =>
        best(
          same.map((mode) => mode.jwks),
          index,
        ),
      ),
      peakRssMiB: Math.max(...same.map((mode) => mode.peakRssMiB)),
    };
  });
}

/** Starts bench/server.ts (npm start's entry, or a cluster of it) and waits until it answers. */
async function startServer(databaseUrl: string, workers: number) {
  const port = await findFreePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: url,
      GATEHOUSE_SECRET: SECRET,
      BENCH_WORKERS: String(workers),
    },
    // Request logs go nowhere: reading them would load the harness's core.
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  let readyPids: number[] | undefined;
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const ready = /READY ([\d ]+)/.exec(stderr);
    if (ready?.[1]) readyPids = ready[1].trim().split(' ').map(Number);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  for (let attempt = 0; attempt < 600; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`Gatehouse exited at start:\n${stderr}`);
    const answered = await fetch(`${url}/jwks`).then(
      (response) => response.ok,
      () => false,
    );
    if (answered && (!workers || readyPids)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    pids: readyPids ?? [child.pid as number],
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Adds the CPU the server's processes (all their threads, the signing thread
 * pool included) spent per successful request: unlike requests per second, it
 * does not depend on what else the shared machine is doing.
 */
async function measured<T extends LoadResult>(
  pids: number[],
  run: () => Promise<T>,
): Promise<T & { serverCpuMsPerRequest: number; serverCores: number }> {
  const before = await cpuMs(pids);
  const result = await run();
  const spent = (await cpuMs(pids)) - before;
  const succeeded = Math.max(1, result.requests - result.errors);
  return { ...result, serverCpuMsPerRequest: round(spent / succeeded, 3), serverCores: round(spent / 1000 / result.seconds, 2) };
}

/** utime + stime of the processes, in ms (Linux /proc, clock ticks of 10 ms). */
async function cpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks * 10;
}

/** Sum of each server process's peak resident set (VmHWM, Linux). */
async function peakRss(pids: number[]): Promise<number> {
  let kib = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    kib += Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  }
  return round(kib / 1024, 0);
}

function printTable(
  machine: { cpu: string; cores: number; node: string; loadAverageAtStart: number; loadAverageAtEnd: number },
  signingLimit: number,
  cores: number,
  modes: ModeResult[],
): void {
  console.log(
    `\nGatehouse benchmark on ${machine.cpu}, ${machine.cores} cores, Node ${machine.node} (1-min load average ${machine.loadAverageAtStart} at start, ${machine.loadAverageAtEnd} at end)`,
  );
  console.log(`RS256 signing limit: ${signingLimit}/s per core → ${signingLimit * cores}/s on ${cores} cores\n`);
  const header = [
    'mode',
    'endpoint',
    'conc.',
    'req/s',
    'p50 ms',
    'p99 ms',
    'errors',
    'ratio',
    'server CPU ms/req',
    'server cores',
    'loadgen cores',
  ];
  const rows: string[][] = [];
  for (const mode of modes) {
    for (const [endpoint, results] of [
      ['client_credentials', mode.clientCredentials],
      ['refresh_token', mode.refreshToken],
      ['jwks', mode.jwks],
    ] as const) {
      for (const result of results as (Measured & { ratio?: number })[]) {
        rows.push([
          mode.mode,
          endpoint,
          String(result.concurrency),
          String(result.perSecond),
          String(result.p50Ms),
          String(result.p99Ms),
          String(result.errors),
          result.ratio === undefined ? '' : result.ratio.toFixed(2),
          String(result.serverCpuMsPerRequest),
          String(result.serverCores),
          String(result.loadGeneratorCores),
        ]);
      }
    }
    rows.push([
      mode.mode,
      `peak RSS ${mode.peakRssMiB} MiB (${mode.serverProcesses} process${mode.serverProcesses > 1 ? 'es' : ''})`,
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
      '',
    ]);
  }
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log(
    `\nBest of ${ROUNDS} alternating rounds per cell. ratio = client-credentials tokens/s ÷ (signing limit × server cores); refresh_token signs twice (access token + ID token).`,
  );
  console.log(
    `One RS256 signature costs ${round(1000 / signingLimit, 3)} ms of CPU here: server CPU ms/req above that is what is not signing.`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${(error as Error).stack ?? String(error)}`);
    process.exit(1);
  },
);
