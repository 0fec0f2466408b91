import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { waitForListening } from '../support/spawned-gatehouse.js';

const root = new URL('../../', import.meta.url);

/** The environment of a newcomer's shell: nothing of Gatehouse's set. */
function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('GATEHOUSE_') && !['DATABASE_URL', 'PORT', 'ISSUER', 'NODE_ENV'].includes(name),
    ),
  );
  return { ...environment, ...extra };
}

interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

// What `npm start` runs, without npm in between: dist/ when built and current, else the sources through tsx.
const NPM_START = ['bin/gatehouse.mjs', 'serve'];

function startMain(environment: NodeJS.ProcessEnv, entry = NPM_START): Started {
  const child = spawn(process.execPath, entry, { cwd: root, env: environment, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

const children: ChildProcess[] = [];

// Spawned servers and Postgres clusters: slow to start on a loaded 2-core machine.
describe('npm start', { timeout: 180_000 }, () => {
  const dirs: string[] = [];
  afterAll(async () => {
    // A failed assertion must not leave a server (and its Postgres) running.
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) => (child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined)),
    );
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('starts with nothing configured on an embedded Postgres, stops cleanly on SIGTERM, and reuses the data next time', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-start-'));
    dirs.push(dataDir);
    const port = await testPort();
    const environment = cleanEnvironment({
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_EMBEDDED_PG_PORT: String(await testPort()), // from this worker's share, like PORT
      PORT: String(port),
      GATEHOUSE_ADMIN_EMAIL: 'admin@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'admin password 123',
    });

    const first = startMain(environment);
    await waitForListening(first);
    expect(first.output()).toMatch(/GATEHOUSE_SECRET is not set: generated one into .*secret \(mode 0600\)/);
    expect(first.output()).toContain('starting embedded Postgres');
    expect((await stat(join(dataDir, 'secret'))).mode & 0o777).toBe(0o600);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    // The CLI beside the running server uses the server's Postgres instead of starting another.
    const cli = spawnSync(
      process.execPath,
      ['bin/gatehouse.mjs', 'users', 'create', '--email', 'cli@example.test', '--password', 'cli password 1234'],
      {
        cwd: root,
        env: environment,
        encoding: 'utf8',
      },
    );
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stderr).not.toContain('starting embedded Postgres');

    const { keys: keysBefore } = (await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as { keys: { kid: string }[] };

    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toContain('SIGTERM received: shutting down');
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = startMain(environment, ['--import', 'tsx', 'src/main.ts']); // the production entry point's source
    await waitForListening(second);
    expect(second.output()).toContain('using the generated secret');
    expect(second.output()).not.toContain('applied migrations');
    const { keys: keysAfter } = (await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(keysAfter.map((key) => key.kid)).toEqual(keysBefore.map((key) => key.kid));
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it('fails with one line naming the variable when the configuration is wrong', async () => {
    const started = startMain(cleanEnvironment({ PORT: 'abc', GATEHOUSE_DATA_DIR: join(tmpdir(), 'never-created') }));
    expect(await started.exited).toBe(1);
    expect(started.output().trim()).toBe('gatehouse: configuration error: PORT must be a number (got "abc")');
  });
});
