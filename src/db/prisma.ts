import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.js';

export type { PrismaClient } from './generated/client.js';
import { Prisma } from './generated/client.js';
export { Prisma };

export function createPrismaClient(connectionString: string): PrismaClient {
  // A bounded connect timeout: an unreachable Postgres fails requests (and readyz) instead of hanging them.
  return new PrismaClient({ adapter: new PrismaPg({ connectionString, connectionTimeoutMillis: 5000 }) });
}

/** A unique constraint was violated (Prisma's P2002): the caller maps it to a 409. */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}
