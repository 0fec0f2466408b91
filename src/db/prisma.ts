import { createHash } from 'node:crypto';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from './generated/client.js';

export type { PrismaClient } from './generated/client.js';
import { Prisma } from './generated/client.js';
export { Prisma };

/** Seconds; see GATEHOUSE_DATABASE_TIMEOUT and GATEHOUSE_DATABASE_CONNECT_TIMEOUT. */
export interface DatabaseTimeouts {
  readonly queryTimeout: number;
  readonly connectTimeout: number;
}

export function createPrismaClient(
  connectionString: string,
  timeouts: DatabaseTimeouts = { queryTimeout: 5, connectTimeout: 5 },
): PrismaClient {
  // Bounded everywhere: an unreachable or stalled Postgres fails requests (and
  // readyz) instead of hanging them. `connectionTimeoutMillis` bounds both
  // connecting and waiting for a pooled connection; `query_timeout` is the
  // client-side bound (a stopped server never answers), `statement_timeout`
  // the server-side one (lock waits, slow plans). pg stops waiting on a
  // stalled server only with query_timeout (STACK-NOTES).
  const queryMs = timeouts.queryTimeout * 1000;
  const pool = new pg.Pool({
    connectionString,
    connectionTimeoutMillis: timeouts.connectTimeout * 1000,
    query_timeout: queryMs,
    statement_timeout: queryMs,
    // Prisma's pg adapter sends a Date as UTC wall time without an offset,
    // which Postgres reads in the session's time zone (a server's default is
    // the OS's at initdb). Pinned to UTC, so what Prisma writes, what pg sends
    // (with its offset) and now() name the same instant whatever that default
    // is. pg-pool awaits this before it hands a new connection out: nothing
    // else is queued on the connection meanwhile (pg 8 warns about such a
    // queue and pg 9 drops it), and if it fails, the connection is closed and
    // the statement that asked for it gets the error. It runs after
    // `connectionTimeoutMillis` has stopped counting, under `query_timeout`:
    // a new connection takes at most the two bounds together.
    onConnect: async (client) => {
      await client.query("SET TIME ZONE 'UTC'");
    },
  });
  // An idle connection the server ends (restart, failover, pg_terminate_backend)
  // is an 'error' event on the pool, and an EventEmitter with no listener
  // throws it, ending the process. pg-pool has already dropped that client and
  // the next query opens a new one, so there is nothing to do but not crash:
  // the adapter adds its own listener only once Prisma itself connects, and
  // plainQuery can use the pool before that.
  pool.on('error', () => {});
  // Our own pool (ended by $disconnect, as the adapter's own would be), so its state can be measured.
  // Prisma's own statements are prepared too (statementName below); '' sends one unnamed.
  const adapter = new PrismaPg(pool, {
    disposeExternalPool: true,
    statementNameGenerator: (query) => statementName(query.sql, 'prisma') ?? '',
  });
  const prisma = new PrismaClient({ adapter });
  pools.set(prisma, pool);
  return prisma;
}

const pools = new WeakMap<PrismaClient, pg.Pool>();

/** One statement with positional parameters ($1, $2...), answered with its rows. */
export type PlainQuery = <Row>(text: string, values: readonly unknown[]) => Promise<Row[]>;

/**
 * The hottest lookups (every stored token, code, grant and session; the user
 * of every sign-in and token) sent straight through the client's pg pool:
 * Prisma's raw path costs ~0.1 ms of CPU a statement over pg's own ~0.03, its
 * findUnique ~0.2 (measured in docs/performance.md). Same pool, same
 * timeouts, same connections; outside Prisma's transactions, so only for
 * single statements. A client not made by createPrismaClient goes through
 * `$queryRawUnsafe`.
 */
export function plainQuery(prisma: PrismaClient): PlainQuery {
  const pool = pools.get(prisma);
  if (!pool) return <Row>(text: string, values: readonly unknown[]) => prisma.$queryRawUnsafe<Row[]>(text, ...values);
  return async <Row>(text: string, values: readonly unknown[]) =>
    (await pool.query({ name: statementName(text, 'plain'), text, values: values as unknown[] })).rows as Row[];
}

const statementNames = new Map<string, string>();
/** Bounds on the texts named in one process: Prisma's, and all of them. */
const MAX_PRISMA_STATEMENT_NAMES = 128;
const MAX_STATEMENT_NAMES = 512;
let prismaStatementNames = 0;

/**
 * Every statement is prepared once per connection (a named statement of the
 * extended protocol), not parsed and planned again each time: parsing and
 * planning were most of Postgres's own CPU per refresh, and a quarter of it
 * per Prisma statement (docs/performance.md). That covers plainQuery's texts
 * and the SQL Prisma's query compiler writes (the adapter's
 * statementNameGenerator). The name is the text's hash, so a name always
 * means the same text. plainQuery's texts are Gatehouse's own constants, the
 * hot paths' statements: always named (a whole benchmark sends ~40 texts).
 * Prisma writes a text per query shape (each list length it spells out, each
 * set of filters): beyond 128 of those in one process the rest go unnamed, so
 * admin traffic can neither crowd out the hot paths nor have the process and
 * Postgres hold an unbounded set. Needs a session per connection, as the rest
 * of Gatehouse does (docs/operations.md: no transaction-mode pooler).
 */
function statementName(text: string, from: 'plain' | 'prisma'): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined) {
    // Beyond a bound, sent unnamed: parsed and planned each time, as before.
    if (statementNames.size >= MAX_STATEMENT_NAMES) return undefined;
    if (from === 'prisma') {
      if (prismaStatementNames >= MAX_PRISMA_STATEMENT_NAMES) return undefined;
      prismaStatementNames += 1;
    }
    name = `gatehouse_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** Connections of the client's pool: open, idle, and requests waiting for one (for metrics). */
export function connectionPoolState(prisma: PrismaClient): { total: number; idle: number; waiting: number } {
  const pool = pools.get(prisma);
  return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0 };
}

// Driver-adapter error kinds and Postgres SQLSTATEs that mean "the database is
// not answering right now", not "this request is wrong".
const UNAVAILABLE_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);
// 57014 query_canceled (statement_timeout), 57P01-03 shutdown / cannot connect now, 53300 too many connections, class 08 connection exceptions.
const UNAVAILABLE_SQLSTATE = /^(57014|57P0[1-3]|53300|08...)$/;
// Errors pg and pg-pool throw themselves.
const UNAVAILABLE_MESSAGE =
  /Query read timeout|timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED|ECONNRESET|getaddrinfo|Client has encountered a connection error/;
// Prisma's codes: can't reach (P1001), timed out (P1002), closed connection (P1017), pool timeout (P2024), transaction timed out (P2028).
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024', 'P2028']);

/**
 * Whether an error from a query means the database is unreachable, stalled or
 * overloaded: callers answer 503 temporarily_unavailable with Retry-After.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof Prisma.PrismaClientInitializationError) return true;
    if (current instanceof Prisma.PrismaClientKnownRequestError) {
      if (UNAVAILABLE_PRISMA_CODES.has(current.code)) return true;
      const cause = (current.meta?.driverAdapterError as { cause?: { kind?: string; code?: string } } | undefined)?.cause;
      if (cause?.kind && UNAVAILABLE_KINDS.has(cause.kind)) return true;
      if (cause?.kind === 'postgres' && UNAVAILABLE_SQLSTATE.test(cause.code ?? '')) return true;
    }
    if (current instanceof Error && UNAVAILABLE_MESSAGE.test(current.message)) return true;
    // pg's own error, from a plainQuery statement.
    if (current instanceof pg.DatabaseError && UNAVAILABLE_SQLSTATE.test(current.code ?? '')) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** A unique constraint was violated (Prisma's P2002): the caller maps it to a 409. */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}

/** A uuid's text form, any letter case: `isUuid` in JS, `~*` in SQL (the refresh token's statement guards its cast with it). */
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const uuid = new RegExp(UUID_PATTERN, 'i');

/** Whether a value can be compared with a Postgres uuid column (else the query fails). */
export function isUuid(value: string): boolean {
  return uuid.test(value);
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
