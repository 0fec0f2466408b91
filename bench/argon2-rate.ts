import argon2 from 'argon2';

export interface Argon2Cost {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/**
 * argon2id verifications per second with Gatehouse's password parameters,
 * `concurrency` at a time (one per core: argon2 runs on libuv's thread pool):
 * the ceiling any password login on this machine is measured against.
 */
export async function measureArgon2Rate(cost: Argon2Cost, concurrency: number, seconds: number): Promise<number> {
  const hash = await argon2.hash('benchmark password long enough', { ...cost, type: argon2.argon2id });
  await argon2.verify(hash, 'benchmark password long enough'); // warm-up
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
  return Math.round((count / ((performance.now() - begin) / 1000)) * 10) / 10;
}
