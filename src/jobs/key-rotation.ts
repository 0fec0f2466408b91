import type { KeyService } from '../keys/signing-keys.js';
import type { Logger } from '../log.js';
import { runPeriodically, type PeriodicJob } from './run-periodically.js';

/**
 * Every `intervalSeconds`, applies the key lifecycle on schedule. Every
 * instance runs it; the keys lock makes exactly one of them act.
 */
export function scheduleKeyMaintenance(keys: KeyService, intervalSeconds: number, log: Logger): PeriodicJob {
  return runPeriodically(
    'scheduled key maintenance',
    intervalSeconds,
    async () => {
      const result = await keys.maintain();
      if (result.promoted) log.info(`signing key rotated on schedule: ${result.promoted} now signs, ${result.retired ?? 'none'} retired`);
      if (result.removed.length) log.info(`retired signing keys removed from the JWKS: ${result.removed.join(', ')}`);
    },
    log,
  );
}
