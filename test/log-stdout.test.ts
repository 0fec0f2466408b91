import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);

/** Runs `body` in a child process with the server's logger (createConsoleLogger) as `log`; its stdout is a pipe. */
function childWithLogger(body: string, options: { readStdout: boolean }) {
  const script = `import { createConsoleLogger } from './src/log.ts';\nconst log = createConsoleLogger();\n${body}`;
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: Buffer[] = [];
  let stderr = '';
  if (options.readStdout) child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  else child.stdout.pause();
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, chunks, stderr: () => stderr, exited };
}

describe('log lines on stdout', () => {
  it('go out in batches rather than one write per line, and every line is written by the time the process exits', async () => {
    // A line at a time, as requests log them, each after the previous one's write has had time to finish.
    const run = childWithLogger(
      `for (let i = 0; i < 300; i += 1) { log.info('line ' + i, { i }); await new Promise((resolve) => setTimeout(resolve, 1)); }
       process.exit(0);`,
      { readStdout: true },
    );
    expect(await run.exited).toBe(0);
    const lines = Buffer.concat(run.chunks).toString().trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { i: number }).i)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // One write(2) per line arrives as about 300 reads on a pipe read as fast as it fills.
    expect(run.chunks.length).toBeLessThan(60);
  });

  it('keep a bounded buffer when nobody reads stdout: lines beyond 16 MiB are dropped, not held in memory', async () => {
    // 64 MiB of lines into a pipe nobody reads (the pipe holds 64 KiB).
    const run = childWithLogger(
      `globalThis.gc();
       const before = process.memoryUsage().heapUsed;
       const filler = 'x'.repeat(1000);
       for (let i = 0; i < 64 * 1024; i += 1) log.info(filler);
       // What is still held once the garbage is collected: the buffer of lines not yet written.
       globalThis.gc();
       const grown = (process.memoryUsage().heapUsed - before) / 2 ** 20;
       process.stderr.write('GROWN ' + Math.round(grown) + '\\n');
       process.stderr.write('DONE\\n', () => process.kill(process.pid, 'SIGKILL'));`,
      { readStdout: false },
    );
    await run.exited;
    expect(run.stderr()).toContain('DONE');
    const grown = Number(/GROWN (-?\d+)/.exec(run.stderr())?.[1]);
    // Unbounded, the buffer would hold all 64 MiB of lines.
    expect(grown).toBeLessThan(40);
  });
});
