import { spawn, type ChildProcess } from 'node:child_process';

export const projectRoot = new URL('../../', import.meta.url);

/** The environment of a newcomer's shell: nothing of Gatehouse's set. */
export function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('GATEHOUSE_') && !['DATABASE_URL', 'PORT', 'ISSUER', 'NODE_ENV'].includes(name),
    ),
  );
  return { ...environment, ...extra };
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  /** Waits until stdout or stderr contains `text`; throws with the output if the process exits first. */
  waitFor(text: string): Promise<void>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Runs `node ...args` in the project root, collecting its output. */
export function startNodeProcess(args: string[], environment: NodeJS.ProcessEnv): ServerProcess {
  const child = spawn(process.execPath, args, { cwd: projectRoot, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    async waitFor(text) {
      const deadline = Date.now() + 90_000;
      while (!stdout.includes(text) && !stderr.includes(text)) {
        if (child.exitCode !== null) throw new Error(`exited early:\n${stdout}\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`no "${text}" yet:\n${stdout}\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
