import { applyMigrations } from '../../src/db/migrate.js';
import { createPrismaClient, type PrismaClient } from '../../src/db/prisma.js';
import { createTestDatabase, dropTestDatabase } from './database.js';

/** A migrated test database and a Prisma client on it, for tests below the HTTP layer. */
export async function createMigratedDatabase(): Promise<{ prisma: PrismaClient; databaseUrl: string; drop(): Promise<void> }> {
  const databaseUrl = await createTestDatabase();
  await applyMigrations(databaseUrl);
  const prisma = createPrismaClient(databaseUrl);
  return {
    prisma,
    databaseUrl,
    async drop() {
      await prisma.$disconnect();
      await dropTestDatabase(databaseUrl);
    },
  };
}
