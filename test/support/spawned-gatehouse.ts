import { spawn, type ChildProcess } from 'node:child_process';

const root = new URL('../../', import.meta.url);

/** A Gatehouse in a process of its own (`npm start` without npm), for tests that kill or signal it. */
export interface SpawnedGatehouse {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (null after a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const spawned = new Set<ChildProcess>();

/** The environment of a newcomer's shell plus `extra`: nothing of Gatehouse's inherited. */
export function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('GATEHOUSE_') && !['DATABASE_URL', 'PORT', 'ISSUER', 'HOST', 'NODE_ENV'].includes(name),
    ),
  );
  return { ...environment, ...extra };
}

/**
 * `detached` puts it in a process group of its own, as a shell does for a
 * foreground job: `process.kill(-child.pid, 'SIGINT')` is then Ctrl-C.
 */
export function spawnGatehouse(
  environment: Record<string, string>,
  options: { entry?: string[]; detached?: boolean } = {},
): SpawnedGatehouse {
  const entry = options.entry ?? ['--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, entry, {
    cwd: root,
    env: cleanEnvironment(environment),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  spawned.add(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      spawned.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => output, exited };
}

/** Waits until the server says it listens; throws with its output if it exits first. */
export async function waitForListening(
  started: Pick<SpawnedGatehouse, 'child' | 'output'>,
  marker = 'Gatehouse listening on',
): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (!started.output().includes(marker)) {
    if (started.child.exitCode !== null || started.child.signalCode !== null) throw new Error(`exited early:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`did not start:\n${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** For afterEach/afterAll: SIGKILLs every spawned Gatehouse still running and waits for it. */
export async function killSpawnedGatehouses(): Promise<void> {
  const running = [...spawned];
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(
    running.map(
      (child) =>
        new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve))),
    ),
  );
}
