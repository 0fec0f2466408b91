import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.js';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { testPort } from '../support/ports.js';
import { UnsealError } from '../../src/keys/encryption.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, TEST_SECRET } from '../support/gatehouse.js';
import { cleanEnvironment, killSpawnedGatehouses, spawnGatehouse, waitForListening } from '../support/spawned-gatehouse.js';

const root = new URL('../../', import.meta.url);

/**
 * Output of a start that must fail: exit code 1, no stack trace. oidc-provider's
 * own notice about the Node version (printed when it loads) is left out.
 */
async function failedStart(environment: Record<string, string>): Promise<string> {
  const started = spawnGatehouse(environment);
  const { code } = await started.exited;
  const output = started
    .output()
    .split('\n')
    .filter((line) => !line.startsWith('oidc-provider WARNING'))
    .join('\n')
    .trim();
  expect(code, output).toBe(1);
  expect(output).not.toMatch(/^\s+at /m);
  return output;
}

// Spawned servers and Postgres clusters: slow to start on a loaded 2-core machine.
describe('a start that cannot be safe stops with one line and exit code 1', { timeout: 180_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(killSpawnedGatehouses);
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function database(): Promise<string> {
    const url = await createTestDatabase();
    cleanups.push(() => dropTestDatabase(url));
    return url;
  }

  it('refuses an empty secret file in the data dir', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-empty-secret-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    await writeFile(join(dataDir, 'secret'), '', { mode: 0o600 });
    const output = await failedStart({ GATEHOUSE_DATA_DIR: dataDir, DATABASE_URL: await database(), PORT: String(await testPort()) });
    expect(output).toMatch(
      /^gatehouse: configuration error: the secret in .*secret is 0 characters long; it must be at least 32 characters/,
    );
    expect(output.split('\n')).toHaveLength(1);
  });

  it('names the port when it is already in use', async () => {
    const port = await testPort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    try {
      const output = await failedStart({
        DATABASE_URL: await database(),
        GATEHOUSE_SECRET: TEST_SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
      });
      expect(output.split('\n').at(-1)).toBe(`gatehouse: configuration error: PORT ${port} is already in use on 127.0.0.1`);
    } finally {
      squatter.close();
    }
  });

  it('names HOST when it is not an address of this machine', async () => {
    const output = await failedStart({
      DATABASE_URL: await database(),
      GATEHOUSE_SECRET: TEST_SECRET,
      PORT: String(await testPort()),
      HOST: '192.0.2.1',
    });
    expect(output.split('\n').at(-1)).toBe('gatehouse: configuration error: HOST 192.0.2.1 is not an address of this machine');
  });

  it('retries a DATABASE_URL that refuses connections for GATEHOUSE_DATABASE_WAIT, logging each attempt, then names it', async () => {
    const port = await testPort();
    const output = await failedStart({
      DATABASE_URL: `postgresql://gatehouse:pw@127.0.0.1:${port}/gatehouse`,
      // Long enough that the first refused attempt is over before the last 250 ms, on a starved machine too.
      GATEHOUSE_DATABASE_WAIT: '5s',
      GATEHOUSE_SECRET: TEST_SECRET,
      PORT: String(await testPort()),
    });
    const lines = output.split('\n');
    expect(lines.filter((line) => line.includes('database not reachable yet')).length).toBeGreaterThan(0);
    expect(lines.at(-1)).toBe(
      `gatehouse: configuration error: DATABASE_URL: cannot reach the database at 127.0.0.1:${port} (connection refused), gave up after 5 s`,
    );
    expect(output).not.toContain(':pw@');
  });

  it('names a DATABASE_URL whose host does not resolve', async () => {
    const output = await failedStart({
      DATABASE_URL: 'postgresql://gatehouse:pw@no-such-host.invalid:5432/gatehouse',
      GATEHOUSE_DATABASE_WAIT: '0',
      GATEHOUSE_SECRET: TEST_SECRET,
      PORT: String(await testPort()),
    });
    expect(output.split('\n').at(-1)).toBe(
      'gatehouse: configuration error: DATABASE_URL: cannot reach the database at no-such-host.invalid:5432 (host not found)',
    );
  });

  it('waits for a database that comes up after Gatehouse starts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-late-pg-'));
    const port = await testPort();
    const password = 'late-postgres-password';
    await writeFile(join(dataDir, 'postgres-password'), `${password}\n`, { mode: 0o600 });
    const started = spawnGatehouse({
      // The `postgres` database: it exists the moment the server accepts connections.
      DATABASE_URL: `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`,
      GATEHOUSE_DATABASE_WAIT: '120s',
      GATEHOUSE_SECRET: TEST_SECRET,
      PORT: String(await testPort()),
    });
    for (let tries = 0; tries < 600 && !started.output().includes('database not reachable yet'); tries++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    const postgres = await startEmbeddedPostgres({ dataDir, port });
    cleanups.push(async () => {
      await postgres.stop();
      await rm(dataDir, { recursive: true, force: true });
    });
    await waitForListening(started);
    started.child.kill('SIGTERM');
    expect((await started.exited).code).toBe(0);
  });
});

describe('a start that fails leaves the database as it was', () => {
  let databaseUrl: string;
  afterAll(() => dropTestDatabase(databaseUrl));

  it('checks GATEHOUSE_SECRET against the stored keys before touching the admin user', async () => {
    databaseUrl = await createTestDatabase();
    const admin = { GATEHOUSE_ADMIN_EMAIL: 'root@example.test', GATEHOUSE_ADMIN_PASSWORD: 'first password 123' };
    const first = await startTestGatehouse(databaseUrl, admin);
    const before = await first.prisma.user.findUniqueOrThrow({ where: { email: 'root@example.test' } });
    await first.stop();

    const wrongSecret = startTestGatehouse(databaseUrl, {
      ...first.environment,
      GATEHOUSE_ADMIN_PASSWORD: 'second password 456',
      GATEHOUSE_SECRET: 'another-secret-of-at-least-32-characters',
    });
    await expect(wrongSecret).rejects.toBeInstanceOf(UnsealError);

    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT password_hash, updated_at FROM users WHERE email = $1', ['root@example.test']);
      expect(rows[0].password_hash).toBe(before.passwordHash);
      expect(rows[0].updated_at).toEqual(before.updatedAt);
    } finally {
      await client.end();
    }
  });
});

describe('instances that share a database share one ISSUER', () => {
  let databaseUrl: string;
  afterAll(() => dropTestDatabase(databaseUrl));

  it('refuses a start with another ISSUER, changes nothing, and takes the new one after `gatehouse issuer set`', async () => {
    databaseUrl = await createTestDatabase();
    const first = await startTestGatehouse(databaseUrl, {
      ISSUER: 'https://id.example.test',
      GATEHOUSE_ADMIN_CLIENT_ID: 'admin-console',
      GATEHOUSE_ADMIN_CLIENT_SECRET: 'admin-console-secret-of-32-characters-min',
    });
    const environment = first.environment;
    const adminClientBefore = await first.prisma.client.findUniqueOrThrow({ where: { id: 'admin-console' } });
    await first.stop();

    const moved = { ...environment, ISSUER: 'https://login.example.test' };
    const refused = startTestGatehouse(databaseUrl, moved);
    await expect(refused).rejects.toBeInstanceOf(ConfigError);
    await expect(refused).rejects.toThrow(
      'ISSUER is https://login.example.test, but this database belongs to issuer https://id.example.test: instances that share a database must share ISSUER. To move every instance to the new issuer, run `gatehouse issuer set https://login.example.test` first',
    );

    const cli = spawnSync(process.execPath, ['bin/gatehouse.mjs', 'issuer', 'set', 'https://login.example.test'], {
      cwd: root,
      env: cleanEnvironment({ DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET }),
      encoding: 'utf8',
    });
    expect(cli.status, cli.stderr).toBe(0);
    expect(cli.stdout).toContain('https://login.example.test');

    const second = await startTestGatehouse(databaseUrl, moved);
    try {
      const adminClientAfter = await second.prisma.client.findUniqueOrThrow({ where: { id: 'admin-console' } });
      expect(adminClientAfter.metadata).not.toEqual(adminClientBefore.metadata);
      expect(JSON.stringify(adminClientAfter.metadata)).toContain('https://login.example.test/admin');
    } finally {
      await second.stop();
    }
  });
});
