import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import { AppError } from '../http/errors.js';
import { changePasswordHashQueueDepth } from '../metrics/metrics.js';
import { RETRY_LATER } from '../http/unavailable.js';

export interface PasswordHashing {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** Spends the time of a real verification, for unknown users (timing parity). */
  verifyDummy(password: string): Promise<void>;
}

/**
 * At most two argon2 computations per core at once (each holds `memoryCost`
 * KiB), and a bounded queue behind them: a burst of logins waits or gets a
 * 503, instead of exhausting memory.
 */
export function createConcurrencyLimit(concurrent: number, queued: number, onQueueChange: (delta: number) => void = () => {}) {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async function limit<T>(work: () => Promise<T>): Promise<T> {
    if (active >= concurrent) {
      if (waiting.length >= queued)
        throw new AppError(503, 'temporarily_unavailable', 'too many sign-ins at once; try again shortly', RETRY_LATER);
      onQueueChange(1);
      await new Promise<void>((resolve) => waiting.push(resolve));
      onQueueChange(-1);
    }
    active += 1;
    try {
      return await work();
    } finally {
      active -= 1;
      waiting.shift()?.();
    }
  };
}

/** argon2id with the given cost (OWASP's minimum: 19 MiB, t=2, p=1). */
export function createPasswordHasher(cost: PasswordHashing): PasswordHasher {
  const options = { ...cost, type: argon2.argon2id as 2 };
  const limit = createConcurrencyLimit(2 * availableParallelism(), 256, changePasswordHashQueueDepth);
  let dummyHash: Promise<string> | undefined;
  return {
    hash: (password) => limit(() => argon2.hash(password, options)),
    verify: (hash, password) =>
      limit(() => argon2.verify(hash, password)).catch((error: unknown) => {
        if (error instanceof AppError) throw error;
        return false; // a malformed stored hash verifies nothing
      }),
    async verifyDummy(password) {
      dummyHash ??= argon2.hash('gatehouse-dummy-password', options);
      const hash = await dummyHash;
      await limit(() => argon2.verify(hash, password)).catch((error: unknown) => {
        if (error instanceof AppError) throw error;
      });
    },
  };
}
