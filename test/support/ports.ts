import { randomInt } from 'node:crypto';
import { FREE_PORT_RANGE, findFreePort } from '../../src/db/embedded-postgres.js';

/**
 * Each vitest worker of a run (VITEST_POOL_ID 1 to maxWorkers, 2 here) takes
 * its ports from a share of FREE_PORT_RANGE of its own, and never hands out
 * one port twice. findFreePort only checks that a port is free: between that
 * check and the server's bind (a start with its migrations, a Postgres
 * cluster's initdb: seconds), the other worker, or the same test asking for
 * a second port, could pick the same one. Shares keep apart the workers of
 * one run, not two runs on one machine.
 */
const SHARES = 4;
const poolId = Number(process.env.VITEST_POOL_ID ?? '1');
if (!Number.isInteger(poolId) || poolId < 1 || poolId > SHARES) {
  throw new Error(`VITEST_POOL_ID ${process.env.VITEST_POOL_ID} is not 1 to ${SHARES}: at most ${SHARES} test workers have a port share`);
}
const width = Math.floor((FREE_PORT_RANGE.last - FREE_PORT_RANGE.first + 1) / SHARES);
const first = FREE_PORT_RANGE.first + (poolId - 1) * width;
const handedOut = new Set<number>();

/** A port free on loopback now, that no other worker of this run, and no earlier call here, picks. */
export async function testPort(): Promise<number> {
  const port = await findFreePort(() => {
    let candidate: number;
    do candidate = first + randomInt(width);
    while (handedOut.has(candidate));
    return candidate;
  });
  handedOut.add(port);
  return port;
}
