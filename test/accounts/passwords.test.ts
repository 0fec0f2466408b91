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

describe('the bounded wait for an argon2 slot', () => {
  /** A computation that runs until released. */
  function held() {
    let release = () => {};
    const done = new Promise<void>((resolve) => (release = resolve));
    return { work: () => done, release };
  }

  it('answers 503 with Retry-After once a queued sign-in has waited longer than the bound, and keeps serving after', async () => {
    const limit = createConcurrencyLimit(1, 10, () => {}, 1);
    const first = held();
    const running = limit(first.work);
    const waited = limit(async () => 'never runs');
    await expect(waited).rejects.toMatchObject({
      status: 503,
      code: 'temporarily_unavailable',
      headers: { 'Retry-After': expect.stringMatching(/^[1-9]\d*$/) },
    });
    first.release();
    await running;
    await expect(limit(async () => 'served')).resolves.toBe('served');
  });

  it('refuses at once, without queuing, when the work queued ahead would outlast the bound', async () => {
    const queueChanges: number[] = [];
    const limit = createConcurrencyLimit(1, 10, (delta) => queueChanges.push(delta), 0);
    // One computation that took a few ms, so the limiter knows what a slot costs.
    const warm = held();
    const warming = limit(warm.work);
    await new Promise((resolve) => setTimeout(resolve, 5));
    warm.release();
    await warming;

    const busy = held();
    const occupying = limit(busy.work);
    await expect(limit(async () => 'queued')).rejects.toMatchObject({
      status: 503,
      code: 'temporarily_unavailable',
      headers: { 'Retry-After': '1' },
    });
    expect(queueChanges).toEqual([]);
    busy.release();
    await occupying;
  });

  it('hands a freed slot to the sign-in that waited, not to a newcomer', async () => {
    const limit = createConcurrencyLimit(1, 10, () => {}, 60_000);
    const order: string[] = [];
    const first = held();
    const running = limit(first.work);
    const waiter = limit(async () => order.push('waiter'));
    first.release();
    const newcomer = limit(async () => order.push('newcomer'));
    await Promise.all([running, waiter, newcomer]);
    expect(order).toEqual(['waiter', 'newcomer']);
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
