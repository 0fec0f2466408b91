import pg from 'pg';
import { ConfigError } from '../config/config.js';
import type { Logger } from '../log.js';

/** Why a connection attempt failed, when waiting may help; undefined when it will not. */
function unreachableReason(error: unknown): string | undefined {
  const { code } = error as { code?: unknown };
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case '57P03':
      return 'the database is starting up';
    default:
      return /timeout/i.test((error as Error).message ?? '') ? 'timed out' : undefined;
  }
}

// SQLSTATEs that no amount of waiting fixes, said in one line: wrong password or user, no such database.
const REFUSED = new Set(['28P01', '28000', '3D000']);

/**
 * Connects to DATABASE_URL once, retrying with back-off (0.25 s doubling up to
 * 5 s) for up to `waitSeconds` while it refuses connections or does not
 * resolve: a container started before its database waits for it. Each attempt
 * is logged. Gives up with a one-line ConfigError naming host and port (never
 * the password).
 */
export async function waitForDatabase(
  databaseUrl: string,
  options: { waitSeconds: number; connectTimeout: number },
  log: Logger,
): Promise<void> {
  const url = new URL(databaseUrl);
  const where = `${url.hostname}:${url.port || 5432}`;
  const deadline = Date.now() + options.waitSeconds * 1000;
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: options.connectTimeout * 1000 });
    client.on('error', () => {}); // a failed connect also emits 'error'; the rejection below handles it
    try {
      await client.connect();
      await client.end();
      if (attempt > 1) log.info(`database at ${where} is reachable`);
      return;
    } catch (error) {
      await client.end().catch(() => {});
      const { code } = error as { code?: string };
      if (code && REFUSED.has(code))
        throw new ConfigError(`DATABASE_URL: the database at ${where} refused the connection: ${(error as Error).message}`);
      const reason = unreachableReason(error);
      if (!reason) throw error;
      if (Date.now() + delay > deadline) {
        throw new ConfigError(
          `DATABASE_URL: cannot reach the database at ${where} (${reason})${options.waitSeconds > 0 ? `, gave up after ${options.waitSeconds} s` : ''}`,
        );
      }
      log.warn(
        `database not reachable yet at ${where} (${reason}), attempt ${attempt}; retrying in ${delay} ms (GATEHOUSE_DATABASE_WAIT ${options.waitSeconds} s)`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
