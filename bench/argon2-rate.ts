import argon2 from 'argon2';

export interface Argon2Cost {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/**
 * argon2id verifications per second with Gatehouse's password parameters,
 * `concurrency` at a time (one per core: argon2 runs on libuv's thread pool):
 * the ceiling any password login on this machine is measured against, and
 * the CPU one verification costs (steadier than the rate on a shared machine).
 */
export async function measureArgon2Rate(
  cost: Argon2Cost,
  concurrency: number,
  seconds: number,
): Promise<{ perSecond: number; cpuMsPerVerify: number }> {
  const hash = await argon2.hash('benchmark password long enough', { ...cost, type: argon2.argon2id });
  await argon2.verify(hash, 'benchmark password long enough'); // warm-up
  const cpuBefore = process.cpuUsage(); // this process's threads, libuv's pool (where argon2 runs) included
  const begin = performance.now();
  const deadline = begin + seconds * 1000;
  let count = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await argon2.verify(hash, 'benchmark password long enough');
        count += 1;
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  return {
    perSecond: Math.round((count / ((performance.now() - begin) / 1000)) * 10) / 10,
    cpuMsPerVerify: Math.round(((cpu.user + cpu.system) / 1000 / Math.max(1, count)) * 100) / 100,
  };
}
