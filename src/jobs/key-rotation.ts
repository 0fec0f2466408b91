import type { PrismaClient } from '../db/prisma.js';
import { maintainSigningKeys, type KeySettings } from '../keys/signing-keys.js';
import type { Logger } from '../log.js';

/**
 * Every `intervalSeconds`, applies the key lifecycle on schedule. Every
 * instance runs it; the keys lock makes exactly one of them act.
 */
export function scheduleKeyMaintenance(
  prisma: PrismaClient,
  encryptionKey: Buffer,
  settings: KeySettings,
  intervalSeconds: number,
  log: Logger,
): () => void {
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const result = await maintainSigningKeys(prisma, encryptionKey, settings);
      if (result.promoted) log.info(`signing key rotated on schedule: ${result.promoted} now signs, ${result.retired ?? 'none'} retired`);
      if (result.removed.length) log.info(`retired signing keys removed from the JWKS: ${result.removed.join(', ')}`);
    } catch (error) {
      log.warn(`scheduled key maintenance failed: ${(error as Error).message}`);
    } finally {
      running = false;
    }
  }, intervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
