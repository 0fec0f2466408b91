import { spawn } from 'node:child_process';
import { runCli as runCliMain } from '../../src/cli/main.js';

const root = new URL('../../', import.meta.url);

/** Runs the real `gatehouse` command (the package's bin) as a child process. */
export function runCli(
  args: string[],
  environment: Record<string, string>,
  stdin = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/gatehouse.mjs', ...args], {
      cwd: root,
      env: { ...process.env, ...environment },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a `gatehouse` command line in this process, through the CLI's own entry (runCli), capturing its output. */
export async function runCliInProcess(
  args: string[],
  environment: Record<string, string>,
  stdin = '',
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCliMain(args, environment, {
    stdout: (text) => void stdout.push(`${text}\n`),
    stderr: (text) => void stderr.push(`${text}\n`),
    readStdin: async () => stdin,
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}
