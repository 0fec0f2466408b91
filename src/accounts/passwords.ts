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
 * Longest a sign-in waits for an argon2 slot: with the verification itself
 * and the rest of the request, a sign-in at the saturation point still
 * answers within 2 s. Beyond it, 503 with Retry-After.
 */
export const MAX_HASH_WAIT_MS = 1000;

interface Waiter {
  /** Hands this waiter the slot a finished computation frees. */
  readonly admit: () => void;
}

/**
 * At most `concurrent` argon2 computations at once (each holds `memoryCost`
 * KiB), and a bounded queue behind them: a burst of logins waits or gets a
 * 503, instead of exhausting memory. The wait is bounded in time as well:
 * a computation that would start later than `maxWaitMs` from now, judged by
 * the work queued ahead of it and how long recent computations took, is
 * refused at once, and one that has waited `maxWaitMs` gives up its place;
 * both answer 503 temporarily_unavailable with Retry-After (RFC 9110 §10.2.3)
 * saying when the queue will have drained.
 */
export function createConcurrencyLimit(
  concurrent: number,
  queued: number,
  onQueueChange: (delta: number) => void = () => {},
  maxWaitMs: number = MAX_HASH_WAIT_MS,
) {
  let active = 0;
  const waiting: Waiter[] = [];
  /** Moving average of how long one computation takes, ms (unknown until one finished). */
  let averageMs: number | undefined;
  const expectedWaitMs = () => (averageMs === undefined ? 0 : ((waiting.length + 1) / concurrent) * averageMs);
  const busy = (headers: Readonly<Record<string, string>>) =>
    new AppError(503, 'temporarily_unavailable', 'too many sign-ins at once; try again shortly', headers);
  const drainHeaders = () => ({ 'Retry-After': String(Math.max(1, Math.ceil(expectedWaitMs() / 1000))) });

  async function acquire(): Promise<void> {
    if (active < concurrent) {
      active += 1;
      return;
    }
    if (waiting.length >= queued) throw busy(RETRY_LATER);
    if (expectedWaitMs() > maxWaitMs) throw busy(drainHeaders());
    onQueueChange(1);
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const index = waiting.indexOf(waiter);
          if (index !== -1) waiting.splice(index, 1);
          reject(busy(drainHeaders()));
        }, maxWaitMs);
        const waiter: Waiter = {
          admit: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        waiting.push(waiter);
      });
    } finally {
      onQueueChange(-1);
    }
  }

  /** The slot goes straight to the next waiter, so a newcomer cannot take it first. */
  function release(tookMs: number): void {
    averageMs = averageMs === undefined ? tookMs : 0.8 * averageMs + 0.2 * tookMs;
    const next = waiting.shift();
    if (next) next.admit();
    else active -= 1;
  }

  return async function limit<T>(work: () => Promise<T>): Promise<T> {
    await acquire();
    const started = performance.now();
    try {
      return await work();
    } finally {
      release(performance.now() - started);
    }
  };
}

/** argon2id with the given cost (OWASP's minimum: 19 MiB, t=2, p=1). */
export function createPasswordHasher(cost: PasswordHashing): PasswordHasher {
  const options = { ...cost, type: argon2.argon2id as 2 };
  // One computation per core: argon2 is CPU-bound, so more at once only adds
  // 19 MiB each and latency. Each holds a libuv thread-pool thread for its
  // whole run; bin/threadpool.cjs sizes the pool to the cores plus libuv's
  // default four, so WebCrypto signing, fs and DNS always find a free thread
  // during a login storm (docs/performance.md, "Logins").
  const limit = createConcurrencyLimit(availableParallelism(), 256, changePasswordHashQueueDepth);
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
