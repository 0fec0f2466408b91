import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.js';

export type { PrismaClient } from './generated/client.js';
export { Prisma } from './generated/client.js';

export function createPrismaClient(connectionString: string): PrismaClient {
  // A bounded connect timeout: an unreachable Postgres fails requests (and readyz) instead of hanging them.
  return new PrismaClient({ adapter: new PrismaPg({ connectionString, connectionTimeoutMillis: 5000 }) });
}
