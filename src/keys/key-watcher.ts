import type { Logger } from '../log.js';
import type { SigningKeySet } from './signing-keys.js';

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
export function watchSigningKeys(options: KeyWatcherOptions): { reload(): void; close(): Promise<void> } {
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
    async close() {
      clearInterval(timer);
      await running;
    },
  };
}
