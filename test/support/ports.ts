import { randomInt } from 'node:crypto';
import { FREE_PORT_RANGE, findFreePort } from '../../src/db/embedded-postgres.js';

/**
 * The two vitest workers (VITEST_POOL_ID 1, 2) each take their ports from a
 * share of FREE_PORT_RANGE of their own. findFreePort only checks that a
 * port is free: between that check and the server's bind (a start with its
 * migrations, a Postgres cluster's initdb: seconds), the other worker could
 * check the same port and bind it first. With a share each, neither picks a
 * port the other may be about to bind, and a server a test restarts on its
 * pinned port finds it still free.
 */
const SHARES = 4;
const width = Math.floor((FREE_PORT_RANGE.last - FREE_PORT_RANGE.first + 1) / SHARES);
const first = FREE_PORT_RANGE.first + ((Number(process.env.VITEST_POOL_ID ?? 1) - 1) % SHARES) * width;

/** A port free on loopback now, that no other test worker will pick. */
export function testPort(): Promise<number> {
  return findFreePort(() => first + randomInt(width));
}
