import type { ChangeTopic } from '../db/change-notifications.js';
import type { ClientService } from './clients.js';
import { createLookupCache } from './lookup-cache.js';
import type { ResourceService } from './resources.js';

/** Bounds memory when someone sends many unknown client ids or resources. */
const MAX_ENTRIES = 10_000;

/**
 * The client and API services with their hot-path reads cached in-process:
 * every token request reads its client and its API, which rarely change.
 * `onChange` is fed by listenForChanges, so a change made at any instance
 * drops the stale copies everywhere.
 */
export function cacheLookups(clients: ClientService, resources: ResourceService, ttlSeconds: number) {
  const options = { ttlMs: ttlSeconds * 1000, maxEntries: MAX_ENTRIES };
  const clientCache = createLookupCache((clientId) => clients.findStoredClient(clientId), options);
  const resourceCache = createLookupCache((identifier) => resources.findResourceByIdentifier(identifier), options);
  return {
    clients: { ...clients, findStoredClient: (clientId: string) => clientCache.get(clientId) } satisfies ClientService,
    resources: { ...resources, findResourceByIdentifier: (identifier: string) => resourceCache.get(identifier) } satisfies ResourceService,
    /** Drops what `topic` covers. `keys` is handled by whoever holds the signing keys. */
    onChange(topic: ChangeTopic): void {
      if (topic === 'clients') clientCache.clear();
      if (topic === 'resources') resourceCache.clear();
    },
  };
}
