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

/** Whether a value can be compared with a Postgres uuid column (else the query fails). */
export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/**
 * Keyset pagination: callers fetch `limit + 1` rows in key order; the extra
 * row only says that a next page exists, which starts after the last key shown.
 */
export function splitPage<T>(rows: T[], limit: number, keyOf: (row: T) => string): { page: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { page, nextCursor: rows.length > limit && last !== undefined ? keyOf(last) : null };
}

/**
 * Postgres refused text it cannot store: a NUL byte (22021) or a lone
 * surrogate (22P05). Input validation should have caught it; the error
 * renderer answers it as the caller's 400, never a 500.
 */
export function isUnstorableTextError(error: unknown): boolean {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  const cause = (error.meta as { driverAdapterError?: { cause?: { originalCode?: unknown } } } | undefined)?.driverAdapterError?.cause;
  return cause?.originalCode === '22021' || cause?.originalCode === '22P05';
}
