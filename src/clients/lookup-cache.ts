/**
 * An in-process cache for data that rarely changes (clients, APIs) read on
 * every token request. Entries, including "not found", live at most `ttlMs`
 * (a safety net); `clear()` is what normally drops them, called when another
 * instance announces a change (src/db/change-notifications.ts).
 */
export interface LookupCache<T> {
  get(key: string): Promise<T>;
  clear(): void;
}

export function createLookupCache<T>(load: (key: string) => Promise<T>, options: { ttlMs: number; maxEntries: number }): LookupCache<T> {
  const entries = new Map<string, { value: Promise<T>; expiresAt: number }>();

  return {
    get(key) {
      const now = Date.now();
      const cached = entries.get(key);
      if (cached && cached.expiresAt > now) return cached.value;
      if (cached) entries.delete(key);

      // Concurrent misses for one key share a single load.
      const value = load(key);
      entries.set(key, { value, expiresAt: now + options.ttlMs });
      if (entries.size > options.maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      // Never cache a failure (e.g. the database was down). A load that was
      // running when clear() emptied the map is not in it any more.
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      return value;
    },
    clear() {
      entries.clear();
    },
  };
}
