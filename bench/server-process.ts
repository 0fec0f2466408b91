import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { findFreePort } from '../src/db/embedded-postgres.js';
import { round, type LoadResult } from './load.js';

export interface ServerProcess {
  readonly url: string;
  /** Every process that serves (a cluster's primary and workers). */
  readonly pids: number[];
  stop(): Promise<void>;
}

const SERVER_STDOUT = process.env.BENCH_SERVER_STDOUT || undefined;

/**
 * Starts `node <script>` (no TypeScript loader: Gatehouse's compiled build or
 * the bare engine) with PORT/HOST/ISSUER set (`port`: the same one each time
 * for Gatehouse, whose database remembers its issuer), and waits until it prints
 * READY (with its pids) or answers /jwks.
 */
export async function startServer(
  root: URL,
  script: string,
  env: Record<string, string>,
  options: { nodeFlags?: string[]; waitForReadyLine?: boolean; port?: number } = {},
): Promise<ServerProcess> {
  const port = options.port ?? (await findFreePort());
  const url = `http://127.0.0.1:${port}`;
  const stdout = SERVER_STDOUT ? openSync(SERVER_STDOUT, 'a') : 'ignore';
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeFlags ?? []), script], {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', ISSUER: url, NODE_ENV: 'production' },
    // Request logs go nowhere: reading them would load the harness's core.
    // BENCH_SERVER_STDOUT=<file> appends them there instead, with what V8
    // prints (e.g. BENCH_NODE_FLAGS=--trace-gc-nvp): for profiling only.
    stdio: ['ignore', stdout, 'pipe'],
  });
  if (typeof stdout === 'number') closeSync(stdout); // the child has its own copy
  let stderr = '';
  let ready: number[] | undefined;
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const line = /READY([\d ]*)/.exec(stderr);
    if (line) ready = (line[1] ?? '').trim().split(' ').filter(Boolean).map(Number);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  for (let attempt = 0; ; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`${script} exited at start:\n${stderr}`);
    if (attempt > 1200) throw new Error(`${script} did not answer within two minutes:\n${stderr}`);
    const answered = await fetch(`${url}/jwks`).then(
      (response) => response.ok,
      () => false,
    );
    if (answered && (!options.waitForReadyLine || ready)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    pids: ready?.length ? ready : [child.pid as number],
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export type Measured = LoadResult & {
  /** Server CPU (all its processes and threads) per successful request. */
  serverCpuMsPerRequest: number;
  /** Of that, the event loop's thread (each process's main thread): the part one core bounds. */
  eventLoopCpuMsPerRequest: number;
  /**
   * Of that, libuv's thread pool (signing, argon2, log writes), where it can be
   * told apart: Gatehouse runs it at a lower priority (bin/threadpool.cjs). The
   * rest is V8's helper threads (garbage collection) and Node's own.
   */
  threadPoolCpuMsPerRequest?: number;
  /** Server CPU over the run, in cores. */
  serverCores: number;
  /**
   * Postgres's CPU per successful request (the postmaster and every backend,
   * those that ended during the run included): not in the server's figure,
   * yet on the same two cores.
   */
  databaseCpuMsPerRequest?: number;
  /**
   * Bytes of write-ahead log Postgres wrote per successful request: what the
   * requests changed, and what a replica or a backup receives. Unlike CPU, it
   * does not depend on the machine's speed or load; it grows with the tables
   * (docs/performance.md, "Writes (seventh round)"). Each run starts settled
   * (vacuumed, at a checkpoint), so it includes the full-page images of the
   * first change to each page after the checkpoint, and little of autovacuum's.
   */
  walBytesPerRequest?: number;
  /**
   * Share of the whole machine's CPU time (every core, /proc/stat) that was
   * idle over the run, and that the hypervisor gave to other guests (steal):
   * what no process here used. Idle includes iowait. With a server that
   * could use more, idle says the requests were waiting on something other
   * than a core: hand-offs between threads and processes, disk flushes, or a
   * load generator that sends too little. The window is the whole load run
   * (the load generator's start and exit included).
   */
  machineIdleShare: number;
  machineStealShare: number;
};

/** The embedded Postgres a run is measured against. */
export interface MeasuredDatabase {
  readonly postmasterPid: number;
  /**
   * Vacuums and forces a checkpoint, so that every run starts from the same
   * state: no dead rows of earlier runs for autovacuum to clean up (and log)
   * during this one, and a checkpoint.
   */
  settle(): Promise<void>;
  /** The write-ahead log's current position, in bytes. */
  walPosition(): Promise<number>;
}

/**
 * Runs a load and adds the CPU the server's processes (all their threads, the
 * signing and argon2 thread pool included) spent per successful request:
 * unlike requests per second, it hardly depends on what else the shared
 * machine is doing. The event loop's share says how close a workload is to
 * the one core a process's JavaScript can use.
 */
export async function measured(pids: number[], run: () => Promise<LoadResult>, database?: MeasuredDatabase): Promise<Measured> {
  await database?.settle();
  const walBefore = database ? await database.walPosition() : 0;
  const before = await cpuMs(pids);
  const threadsBefore = await threadCpuMs(pids);
  const databaseBefore = database ? await databaseCpuMs(database.postmasterPid) : 0;
  const machineBefore = await machineTicks();
  const result = await run();
  const machine = subtractTicks(await machineTicks(), machineBefore);
  const spent = (await cpuMs(pids)) - before;
  const threadsAfter = await threadCpuMs(pids);
  const databaseSpent = database ? (await databaseCpuMs(database.postmasterPid)) - databaseBefore : undefined;
  const wal = database ? (await database.walPosition()) - walBefore : undefined;
  const succeeded = Math.max(1, result.requests - result.errors);
  const pool = threadsAfter.lowerPriority - threadsBefore.lowerPriority;
  return {
    ...result,
    serverCpuMsPerRequest: round(spent / succeeded, 3),
    eventLoopCpuMsPerRequest: round((threadsAfter.eventLoop - threadsBefore.eventLoop) / succeeded, 3),
    ...(pool > 0 ? { threadPoolCpuMsPerRequest: round(pool / succeeded, 3) } : {}),
    serverCores: round(spent / 1000 / result.seconds, 2),
    ...(databaseSpent === undefined ? {} : { databaseCpuMsPerRequest: round(databaseSpent / succeeded, 3) }),
    ...(wal === undefined ? {} : { walBytesPerRequest: Math.round(wal / succeeded) }),
    machineIdleShare: round(machine.idle / Math.max(1, machine.total), 3),
    machineStealShare: round(machine.steal / Math.max(1, machine.total), 3),
  };
}

/** The machine's CPU time so far, all cores (proc(5), /proc/stat's `cpu` line): idle (with iowait), steal, and the total. */
async function machineTicks(): Promise<{ idle: number; steal: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8').catch(() => '')).split('\n')[0] ?? '';
  // user nice system idle iowait irq softirq steal (guest time is already counted in user and nice)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.split(/\s+/).slice(1).map(Number);
  return { idle: idle + iowait, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
}

function subtractTicks(after: Awaited<ReturnType<typeof machineTicks>>, before: Awaited<ReturnType<typeof machineTicks>>) {
  return { idle: after.idle - before.idle, steal: after.steal - before.steal, total: after.total - before.total };
}

/**
 * CPU of a Postgres server in ms: the postmaster, its live children (the
 * backends, the WAL writer, the checkpointer...) and, through the postmaster's
 * cutime and cstime, the children it has already reaped (proc(5)).
 */
export async function databaseCpuMs(postmasterPid: number): Promise<number> {
  let ticks = 0;
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (entry === String(postmasterPid)) ticks += Number(fields[13] ?? 0) + Number(fields[14] ?? 0);
    if (entry === String(postmasterPid) || fields[1] === String(postmasterPid)) ticks += ticksOf(stat).ticks;
  }
  return ticks * 10;
}

/** utime + stime of the processes, in ms (Linux /proc, clock ticks of 10 ms). */
export async function cpuMs(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) ticks += ticksOf(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).ticks;
  return ticks * 10;
}

/**
 * CPU of the processes' live threads, in ms: their main threads (the event
 * loops), and the threads running at a lower priority than their process
 * (libuv's pool, which bin/threadpool.cjs renices).
 */
async function threadCpuMs(pids: number[]): Promise<{ eventLoop: number; lowerPriority: number }> {
  let eventLoop = 0;
  let lowerPriority = 0;
  for (const pid of pids) {
    const main = ticksOf(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => ''));
    const tids = await readdir(`/proc/${pid}/task`).catch(() => []);
    for (const tid of tids) {
      const thread = ticksOf(await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => ''));
      if (tid === String(pid)) eventLoop += thread.ticks;
      else if (thread.nice > main.nice) lowerPriority += thread.ticks;
    }
  }
  return { eventLoop: eventLoop * 10, lowerPriority: lowerPriority * 10 };
}

/** utime + stime (clock ticks) and nice of a /proc stat line (proc(5): fields 14, 15 and 19). */
function ticksOf(stat: string): { ticks: number; nice: number } {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ticks: Number(fields[11] ?? 0) + Number(fields[12] ?? 0), nice: Number(fields[16] ?? 0) };
}

/** Resident set of the processes now (VmRSS) and at their peak so far (VmHWM), summed, in MiB (Linux). */
export async function rss(pids: number[]): Promise<{ nowMiB: number; peakMiB: number }> {
  let now = 0;
  let peak = 0;
  for (const pid of pids) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    now += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    peak += Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  }
  return { nowMiB: round(now / 1024, 0), peakMiB: round(peak / 1024, 0) };
}
