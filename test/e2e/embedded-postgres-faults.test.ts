import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { isAlive } from '../../src/db/postgres-process.js';
import { killSpawnedGatehouses, spawnGatehouse, waitForListening } from '../support/spawned-gatehouse.js';

const postmasterPid = (dataDir: string) => Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
const processGroup = (pid: number) => Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(pid)], { encoding: 'utf8' }).trim());
/** The `sh` watcher that stops Postgres when Gatehouse goes (a child of Postgres: the shell exec'd into it). */
const watcherOf = (postgres: number) =>
  execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(postgres)], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, command]) => command === 'sh')
    .map(([pid]) => Number(pid))[0] as number;

async function until(check: () => boolean, what: string): Promise<void> {
  for (let tries = 0; tries < 1200; tries++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// Spawned servers and Postgres clusters: slow to start on a loaded 2-core machine.
describe('the embedded Postgres under faults', { timeout: 180_000 }, () => {
  const dirs: string[] = [];
  const orphans: number[] = [];
  afterEach(killSpawnedGatehouses);
  afterAll(async () => {
    for (const pid of orphans) if (isAlive(pid)) process.kill(pid, 'SIGINT');
    for (const pid of orphans) await until(() => !isAlive(pid), `Postgres ${pid} to stop`).catch(() => {});
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  async function embedded() {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-embedded-fault-'));
    dirs.push(dataDir);
    // Both ports from this worker's share (test/support/ports.ts), the embedded Postgres's too.
    return {
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_EMBEDDED_PG_PORT: String(await testPort()),
      PORT: String(await testPort()),
      HOST: '127.0.0.1',
    };
  }

  it('runs in its own process group, so Ctrl-C reaches Gatehouse only, which stops it in order', async () => {
    const environment = await embedded();
    const server = spawnGatehouse(environment, { detached: true });
    await waitForListening(server);
    const postgres = postmasterPid(environment.GATEHOUSE_DATA_DIR);
    expect(processGroup(postgres)).not.toBe(processGroup(server.child.pid as number));

    process.kill(-(server.child.pid as number), 'SIGINT'); // what a terminal does on Ctrl-C
    expect((await server.exited).code, server.output()).toBe(0);
    expect(server.output()).not.toMatch(/terminating connection due to administrator command|lost its connection/);
    expect(existsSync(join(environment.GATEHOUSE_DATA_DIR, 'postgres', 'postmaster.pid')), server.output()).toBe(false);
  });

  it('stops by itself when Gatehouse is killed with kill -9, and the next start works', async () => {
    const environment = await embedded();
    const first = spawnGatehouse(environment);
    await waitForListening(first);
    const postgres = postmasterPid(environment.GATEHOUSE_DATA_DIR);
    orphans.push(postgres);
    first.child.kill('SIGKILL');
    await first.exited;
    await until(() => !isAlive(postgres), 'the embedded Postgres to stop with its parent');

    const second = spawnGatehouse(environment);
    await waitForListening(second);
    second.child.kill('SIGTERM');
    expect((await second.exited).code, second.output()).toBe(0);
  });

  it('a Postgres left running by a killed Gatehouse is found through postmaster.pid, stopped cleanly, and the start goes on', async () => {
    const environment = await embedded();
    const first = spawnGatehouse(environment);
    await waitForListening(first);
    const postgres = postmasterPid(environment.GATEHOUSE_DATA_DIR);
    orphans.push(postgres);
    // Its watcher goes too (as if everything but Postgres was killed): a true orphan.
    process.kill(watcherOf(postgres), 'SIGKILL');
    first.child.kill('SIGKILL');
    await first.exited;
    expect(isAlive(postgres)).toBe(true);

    const second = spawnGatehouse(environment);
    await waitForListening(second);
    expect(second.output()).toMatch(
      new RegExp(
        `an embedded Postgres \\(pid ${postgres}\\) is still running in .*, left by a Gatehouse \\(pid ${first.child.pid}\\) that exited without stopping it: stopping it`,
      ),
    );
    expect(isAlive(postgres)).toBe(false);
    second.child.kill('SIGTERM');
    expect((await second.exited).code, second.output()).toBe(0);
    expect(existsSync(join(environment.GATEHOUSE_DATA_DIR, 'postgres', 'postmaster.pid'))).toBe(false);
  });

  it('refuses to start on a data dir another running Gatehouse uses', async () => {
    const environment = await embedded();
    const first = spawnGatehouse(environment);
    await waitForListening(first);
    const second = spawnGatehouse({ ...environment, PORT: String(await testPort()) });
    const { code } = await second.exited;
    expect(code).toBe(1);
    expect(second.output()).toContain(
      `gatehouse: configuration error: GATEHOUSE_DATA_DIR ${environment.GATEHOUSE_DATA_DIR} is in use by another Gatehouse (pid ${first.child.pid})`,
    );
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });
});
