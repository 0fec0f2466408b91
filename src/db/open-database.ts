import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { findRunningEmbeddedPostgres, startEmbeddedPostgres } from './embedded-postgres.js';
import { applyMigrations } from './migrate.js';
import { waitForDatabase } from './wait-for-database.js';
import { createPrismaClient, type PrismaClient } from './prisma.js';

export interface OpenDatabase {
  readonly databaseUrl: string;
  readonly prisma: PrismaClient;
  /** Disconnects, and stops the embedded Postgres if this call started it. */
  close(): Promise<void>;
}

/**
 * DATABASE_URL, or the embedded Postgres under the data dir: started here, or
 * (with `reuseRunning`, for the CLI) the one a running server already started.
 * Migrations are applied before anything else touches the schema.
 */
export async function openDatabase(config: Config, log: Logger, options: { reuseRunning?: boolean } = {}): Promise<OpenDatabase> {
  let databaseUrl = config.databaseUrl;
  let stopEmbedded = async () => {};
  if (databaseUrl)
    await waitForDatabase(databaseUrl, { waitSeconds: config.database.wait, connectTimeout: config.database.connectTimeout }, log);
  if (!databaseUrl && options.reuseRunning) databaseUrl = await findRunningEmbeddedPostgres(config.dataDir);
  if (!databaseUrl) {
    log.info(`DATABASE_URL is not set: starting embedded Postgres in ${config.dataDir}`);
    const embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, warn: log.warn });
    databaseUrl = embedded.connectionString;
    stopEmbedded = () => embedded.stop();
  }
  const prisma = createPrismaClient(databaseUrl, config.database);
  const close = async () => {
    await prisma.$disconnect();
    await stopEmbedded();
  };
  try {
    const applied = await applyMigrations(databaseUrl);
    if (applied.length) log.info(`applied migrations: ${applied.join(', ')}`);
  } catch (error) {
    await close();
    throw error;
  }
  return { databaseUrl, prisma, close };
}
