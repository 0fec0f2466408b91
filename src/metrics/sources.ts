import { connectionPoolState, type PrismaClient } from '../db/prisma.js';
import { promotableAt } from '../keys/key-lifecycle.js';
import type { KeyService } from '../keys/signing-keys.js';
import type { MetricSources } from './metrics.js';

/**
 * What a running server's gauges read at scrape time: the signing-key
 * schedule (from the database, so every instance reports the same) and this
 * instance's connection pool.
 */
export function metricSourcesFor(
  prisma: PrismaClient,
  keys: KeyService,
  policy: { rotationInterval: number; publishLead: number },
): MetricSources {
  return {
    async signingKeys() {
      const list = await keys.list();
      const current = list.find((key) => key.status === 'current');
      if (!current) return undefined;
      const since = (current.activatedAt ?? current.createdAt).getTime();
      const next = list.find((key) => key.status === 'next');
      // Due after the rotation interval, but a `next` key signs only once published for the lead time.
      const due = Math.max(
        since + policy.rotationInterval * 1000,
        next ? promotableAt(next, { ...policy, retiredRetention: 0 }).getTime() : 0,
      );
      return { ageSeconds: (Date.now() - since) / 1000, nextRotation: new Date(due) };
    },
    pool: () => connectionPoolState(prisma),
  };
}
