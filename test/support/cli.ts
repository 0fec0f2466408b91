import { spawn } from 'node:child_process';

const root = new URL('../../', import.meta.url);

/** Runs the real `gatehouse` command: the package's bin, as a child process. */
export function gatehouseCli(args: string[], environment: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/gatehouse.mjs', ...args], { cwd: root, env: { ...process.env, ...environment }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
