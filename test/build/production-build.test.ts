import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { TEST_SECRET } from '../support/gatehouse.js';
import { cleanEnvironment, projectRoot, startNodeProcess, type ServerProcess } from '../support/processes.js';

// `npm run build` into a folder of this test's own (beside dist/, so the
// compiled code finds views/ and prisma/ the same way), then plain `node`.
const outDir = `.dist-test-${randomBytes(4).toString('hex')}`;
const outPath = fileURLToPath(new URL(`${outDir}/`, projectRoot));

describe('the production build', () => {
  let databaseUrl: string;
  let dataDir: string;
  let server: ServerProcess | undefined;

  beforeAll(() => {
    const build = spawnSync(process.execPath, ['scripts/build.mjs', outDir], { cwd: projectRoot, encoding: 'utf8' });
    expect(build.status, build.stderr + build.stdout).toBe(0);
  });

  afterAll(async () => {
    await server?.stop();
    await rm(outPath, { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it('compiles every module, the generated Prisma client included, to JavaScript', async () => {
    for (const file of ['main.js', 'cli/bin.js', 'server.js', 'db/generated/client.js', '.build-stamp']) {
      expect(existsSync(join(outPath, file)), file).toBe(true);
    }
    expect(existsSync(join(outPath, 'main.ts'))).toBe(false);
  });

  it('runs with plain node (no TypeScript loader), answers discovery, logs JSON lines and keeps the generated admin secret out of them', async () => {
    databaseUrl = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-dist-'));
    const secretFile = join(dataDir, 'master-secret');
    await writeFile(secretFile, `${TEST_SECRET}\n`, { mode: 0o600 });
    const port = await testPort();
    server = startNodeProcess(
      [`${outDir}/main.js`],
      cleanEnvironment({
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER: `http://127.0.0.1:${port}`,
        NODE_ENV: 'production',
        GATEHOUSE_SECRET_FILE: secretFile,
        GATEHOUSE_DATA_DIR: dataDir,
        GATEHOUSE_LOG_LEVL: 'debug', // a typo
      }),
    );
    await server.waitFor('Gatehouse listening on');

    const discovery = await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration?probe=abc`, {
      headers: { 'x-request-id': 'probe-1' },
    });
    expect(discovery.status).toBe(200);
    expect(((await discovery.json()) as { issuer: string }).issuer).toBe(`http://127.0.0.1:${port}`);
    await server.waitFor('"requestId":"probe-1"');

    // stdout is JSON lines only.
    const records = server
      .stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(
      records.every((record) => typeof record.level === 'string' && typeof record.time === 'string' && typeof record.msg === 'string'),
    ).toBe(true);
    expect(records).toContainEqual(
      expect.objectContaining({
        level: 'info',
        requestId: 'probe-1',
        method: 'GET',
        route: '/.well-known/openid-configuration',
        status: 200,
        durationMs: expect.any(Number),
      }),
    );
    expect(server.stdout()).not.toContain('probe=abc');

    // The typo is named, with the setting it probably meant.
    expect(records).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        msg: expect.stringMatching(/GATEHOUSE_LOG_LEVL is not a Gatehouse setting.*GATEHOUSE_LOG_LEVEL\?/),
      }),
    );

    // Not a terminal: the first-start admin client secret went to a 0600 file, not to the output.
    const credentialsFile = join(dataDir, 'admin-client-credentials.txt');
    expect((await stat(credentialsFile)).mode & 0o777).toBe(0o600);
    const clientSecret = /client_secret:\s+(\S+)/.exec(await readFile(credentialsFile, 'utf8'))?.[1];
    expect(clientSecret).toMatch(/^.{32,}$/);
    expect(server.stdout() + server.stderr()).not.toContain(clientSecret);
    expect(records).toContainEqual(expect.objectContaining({ level: 'warn', file: credentialsFile }));

    // The secret works: an admin token for the bootstrap client.
    const token = await fetch(`http://127.0.0.1:${port}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`gatehouse-admin:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials&scope=admin',
    });
    expect(token.status).toBe(200);

    expect(await server.stop()).toBe(0);
    expect(server.stdout()).toContain('SIGTERM received');
  });
});
