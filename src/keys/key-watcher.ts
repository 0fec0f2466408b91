import type { Logger } from '../log.js';
import type { KeyService, SigningKeySet } from './signing-keys.js';

export interface KeyWatcherOptions {
  readonly initial: SigningKeySet;
  readonly load: () => Promise<SigningKeySet>;
  /** Called with each new key set (different fingerprint). */
  readonly onChange: (keys: SigningKeySet) => void;
  /** Seconds between re-reads, the safety net for a missed notification. */
  readonly intervalSeconds: number;
  readonly log: Logger;
}

/**
 * Keeps an instance's keys in step with the database: `reload()` on a `keys`
 * notification from any instance, and every `intervalSeconds` regardless.
 */
export function watchSigningKeys(options: KeyWatcherOptions): { reload(): void; reloadNow(): Promise<void>; close(): Promise<void> } {
  let fingerprint = options.initial.fingerprint;
  let running: Promise<void> | undefined;
  let again = false;

  const reload = async (): Promise<void> => {
    try {
      const keys = await options.load();
      if (keys.fingerprint === fingerprint) return;
      options.onChange(keys);
      fingerprint = keys.fingerprint; // only once applied: a failed swap is retried
    } catch (error) {
      options.log.warn('reloading signing keys failed', { err: error });
    }
  };
  // One reload at a time; a request during one runs once more after it.
  const requestReload = () => {
    if (running) {
      again = true;
      return;
    }
    running = reload().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        requestReload();
      }
    });
  };

  const timer = setInterval(requestReload, options.intervalSeconds * 1000);
  timer.unref();
  return {
    reload: requestReload,
    /** Resolves once a reload that began after this call has been applied (or has failed and been logged). */
    async reloadNow() {
      await running;
      // A reload running now began after the call: it reads the change.
      if (!running) requestReload();
      await running;
    },
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * The key service as this instance's admin API (and console) use it: a
 * rotation or revocation made here is applied here before the call returns,
 * so this instance neither publishes nor signs with a revoked key once the
 * admin has the answer. Other instances follow on the `keys` notification.
 */
export function applyingChangesHere(keys: KeyService, watcher: { reloadNow(): Promise<void> }): KeyService {
  return {
    ...keys,
    rotate: async (audit) => {
      const result = await keys.rotate(audit);
      await watcher.reloadNow();
      return result;
    },
    revoke: async (kid, audit) => {
      const result = await keys.revoke(kid, audit);
      await watcher.reloadNow();
      return result;
    },
  };
}
