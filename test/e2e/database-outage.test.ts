import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres.js';
import { testPort } from '../support/ports.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

const recovery = { timeout: 30_000, interval: 200 };

describe('when Postgres goes away and comes back', () => {
  let dataDir: string;
  let port: number;
  let postgres: EmbeddedDatabase;
  let a: TestGatehouse;
  let b: TestGatehouse;

  beforeAll(async () => {
    // A Postgres of its own: the test stops it.
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-outage-'));
    port = await testPort();
    postgres = await startEmbeddedPostgres({ dataDir, port });
    a = await startTestGatehouse(postgres.connectionString);
    b = await startTestGatehouse(postgres.connectionString, { ISSUER: a.issuer });
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await postgres?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 503 at /readyz, recovers, and hears key changes again', async () => {
    await postgres.stop();
    expect((await fetch(`${a.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${a.url}/healthz`)).status).toBe(200);
    const discovery = await fetch(`${a.url}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200); // needs no database

    postgres = await startEmbeddedPostgres({ dataDir, port });
    await expect.poll(async () => (await fetch(`${a.url}/readyz`)).status, { ...recovery, message: 'readyz to recover' }).toBe(200);

    // The change listener reconnected: a rotation at A reaches B without a restart.
    await a.prisma.$executeRawUnsafe("UPDATE signing_keys SET created_at = created_at - interval '2 days' WHERE status = 'next'");
    const rotation = await a.keys.rotate();
    await expect
      .poll(
        async () => {
          const { keys } = (await (await fetch(`${b.url}/jwks`)).json()) as { keys: { kid: string }[] };
          return keys[0]?.kid;
        },
        { ...recovery, message: "B's JWKS to follow the rotation" },
      )
      .toBe(rotation.promoted);
  });
});
