import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** The test Postgres; only the integration tier has one (vitest.config.ts). */
function postgresUrl(): string {
  const url = inject('postgresUrl');
  if (!url) throw new Error('this test needs Postgres, so it is an integration test: leave it out of UNIT_TESTS in vitest.config.ts');
  return url;
}

/** Creates an empty database for one test file; returns its URL. */
export async function createTestDatabase(): Promise<string> {
  const serverUrl = postgresUrl();
  const name = `gatehouse_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a test database, disconnecting whoever is still on it. */
export async function dropTestDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** A fresh test database with a connected pg client; `close()` ends the client and drops the database. */
export async function connectToTestDatabase(): Promise<{ databaseUrl: string; client: pg.Client; close(): Promise<void> }> {
  const databaseUrl = await createTestDatabase();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  return {
    databaseUrl,
    client,
    async close() {
      await client.end();
      await dropTestDatabase(databaseUrl);
    },
  };
}
