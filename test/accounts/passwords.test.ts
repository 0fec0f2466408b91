import { describe, expect, it } from 'vitest';
import { createConcurrencyLimit, createPasswordHasher } from '../../src/accounts/passwords.js';

describe('password hashing', () => {
  const hasher = createPasswordHasher({ memoryCost: 19456, timeCost: 2, parallelism: 1 });

  it('hashes with argon2id and verifies', async () => {
    const hash = await hasher.hash('correct horse battery');
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await hasher.verify(hash, 'correct horse battery')).toBe(true);
    expect(await hasher.verify(hash, 'wrong')).toBe(false);
    expect(await hasher.verify('not a hash', 'x')).toBe(false);
  });

  it('runs at most N at once and refuses work beyond the queue with 503', async () => {
    const limit = createConcurrencyLimit(2, 1);
    let running = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const work = () =>
      limit(async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
      });
    const started = [work(), work(), work()];
    await expect(work()).rejects.toMatchObject({ status: 503, code: 'temporarily_unavailable' });
    await expect.poll(() => releases.length).toBe(2);
    for (const release of releases.splice(0)) release();
    await expect.poll(() => releases.length).toBe(1);
    for (const release of releases.splice(0)) release();
    await Promise.all(started);
    expect(peak).toBe(2);
  });
});

describe('the password-hash queue depth', () => {
  it('reports each computation that waits for a slot, and each that gets one', async () => {
    const changes: number[] = [];
    const limit = createConcurrencyLimit(1, 5, (delta) => changes.push(delta));
    let release = () => {};
    const first = limit(() => new Promise<void>((resolve) => (release = resolve)));
    const second = limit(async () => undefined);
    const third = limit(async () => undefined);
    await Promise.resolve();
    expect(changes).toEqual([1, 1]);
    release();
    await Promise.all([first, second, third]);
    expect(changes.reduce((sum, delta) => sum + delta, 0)).toBe(0);
    expect(changes).toHaveLength(4);
  });
});
