import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A Postgres URL with the right to create databases; each test file makes its own. */
    postgresUrl: string;
  }
}

/** One Postgres for the whole run: DATABASE_URL if given, else an embedded one in a temp dir. */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('postgresUrl', process.env.DATABASE_URL);
    return;
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-test-pg-'));
  const database = await startEmbeddedPostgres({ dataDir, database: 'postgres' });
  project.provide('postgresUrl', database.connectionString);
  return async () => {
    await database.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
