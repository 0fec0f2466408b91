import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLookupCache } from '../../src/clients/lookup-cache.js';

describe('lookup cache', () => {
  afterEach(() => vi.useRealTimers());

  const counting = (value: (key: string) => string | null = (key) => `value of ${key}`) => {
    const calls: string[] = [];
    const load = async (key: string) => {
      calls.push(key);
      return value(key);
    };
    return { calls, load };
  };

  it('loads a key once, and once for concurrent misses', async () => {
    const { calls, load } = counting();
    const cache = createLookupCache(load, { ttlMs: 60_000, maxEntries: 10 });
    const values = await Promise.all([cache.get('a'), cache.get('a'), cache.get('a')]);
    expect(values).toEqual(['value of a', 'value of a', 'value of a']);
    expect(await cache.get('a')).toBe('value of a');
    expect(calls).toEqual(['a']);
  });

  it('caches "not found" too, and forgets everything on clear()', async () => {
    const { calls, load } = counting(() => null);
    const cache = createLookupCache(load, { ttlMs: 60_000, maxEntries: 10 });
    expect(await cache.get('missing')).toBeNull();
    expect(await cache.get('missing')).toBeNull();
    cache.clear();
    expect(await cache.get('missing')).toBeNull();
    expect(calls).toEqual(['missing', 'missing']);
  });

  it('reloads after the TTL', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { calls, load } = counting();
    const cache = createLookupCache(load, { ttlMs: 1000, maxEntries: 10 });
    await cache.get('a');
    vi.setSystemTime(Date.now() + 999);
    await cache.get('a');
    vi.setSystemTime(Date.now() + 2);
    await cache.get('a');
    expect(calls).toEqual(['a', 'a']);
  });

  it('never caches a failed load', async () => {
    let fail = true;
    const cache = createLookupCache(
      async (key) => {
        if (fail) throw new Error('database down');
        return key;
      },
      { ttlMs: 60_000, maxEntries: 10 },
    );
    await expect(cache.get('a')).rejects.toThrow('database down');
    fail = false;
    expect(await cache.get('a')).toBe('a');
  });

  it('holds at most maxEntries, dropping the oldest', async () => {
    const { calls, load } = counting();
    const cache = createLookupCache(load, { ttlMs: 60_000, maxEntries: 2 });
    await cache.get('a');
    await cache.get('b');
    await cache.get('c');
    await cache.get('b');
    await cache.get('a');
    expect(calls).toEqual(['a', 'b', 'c', 'a']);
  });
});
