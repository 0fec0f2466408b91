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

/**
 * embedded-postgres installs async-exit-hook, which answers Node's
 * 'beforeExit' with process.exit(0). Vitest reports failed tests by setting
 * process.exitCode and letting the process end, so without this the run would
 * exit 0 with failing tests. The code vitest set is remembered before that
 * hook runs and restored as the process exits.
 */
function keepVitestExitCode(): void {
  let code = 0;
  process.prependListener('beforeExit', () => {
    code = Number(process.exitCode ?? 0);
  });
  process.on('exit', () => {
    if (code !== 0) process.exitCode = code;
  });
}

/** One Postgres for the whole run: DATABASE_URL if given, else an embedded one in a temp dir. */
export default async function setup(project: TestProject) {
  keepVitestExitCode();
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
