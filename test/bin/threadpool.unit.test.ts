import { execFile } from 'node:child_process';
import { availableParallelism, getPriority } from 'node:os';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);

/**
 * Starts libuv's pool (an fs read through it) in a child process and prints
 * its UV_THREADPOOL_SIZE and its thread count (Linux: /proc/self/task).
 */
async function threads(flags: string[], env: Record<string, string> = {}): Promise<{ size: string; threads: number }> {
  const script = `
    const fs = require('node:fs');
    fs.readFile('/proc/self/stat', () => {
      console.log(JSON.stringify({ size: String(process.env.UV_THREADPOOL_SIZE), threads: fs.readdirSync('/proc/self/task').length }));
    });`;
  const { UV_THREADPOOL_SIZE: _ignored, ...inherited } = process.env;
  const { stdout } = await run(process.execPath, [...flags, '-e', script], { cwd: root, env: { ...inherited, ...env } });
  return JSON.parse(stdout) as { size: string; threads: number };
}

describe('bin/threadpool.cjs, preloaded by the server command', () => {
  it("gives libuv's pool a thread per core for argon2 on top of its default four, before the pool starts", async () => {
    const preloaded = await threads(['--require', './bin/threadpool.cjs']);
    const stock = await threads([], { UV_THREADPOOL_SIZE: '4' });
    expect(preloaded.size).toBe(String(availableParallelism() + 4));
    expect(preloaded.threads - stock.threads).toBe(availableParallelism());
  });

  it("leaves an operator's own UV_THREADPOOL_SIZE alone", async () => {
    const preloaded = await threads(['--require', './bin/threadpool.cjs'], { UV_THREADPOOL_SIZE: '5' });
    const stock = await threads([], { UV_THREADPOOL_SIZE: '4' });
    expect(preloaded.size).toBe('5');
    expect(preloaded.threads - stock.threads).toBe(1);
  });

  it("runs the pool's threads at a lower priority (nice 10) and leaves the event loop's thread and V8's at the process's own (Linux)", async () => {
    const script = `
      const fs = require('node:fs');
      const niceOf = (thread) => {
        const stat = fs.readFileSync('/proc/self/task/' + thread + '/stat', 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      };
      fs.readFile('/proc/self/stat', () => {
        const threads = fs.readdirSync('/proc/self/task').map(Number);
        console.log(JSON.stringify({ main: niceOf(process.pid), others: threads.filter((t) => t !== process.pid).map(niceOf) }));
      });`;
    const { UV_THREADPOOL_SIZE: _ignored, ...inherited } = process.env;
    const { stdout } = await run(process.execPath, ['--require', './bin/threadpool.cjs', '-e', script], { cwd: root, env: inherited });
    const { main, others } = JSON.parse(stdout) as { main: number; others: number[] };
    // The child starts at this process's priority (0 unless the runner was niced).
    expect(main).toBe(getPriority());
    expect(others.filter((nice) => nice === Math.min(19, main + 10))).toHaveLength(availableParallelism() + 4);
    // V8's own threads (garbage collection helpers the event loop waits for) keep the process's priority.
    expect(others.filter((nice) => nice === main).length).toBeGreaterThan(0);
  });
});
