import type { z } from 'zod';
import type { MaintenanceResult, RevocationResult, SigningKeySummary } from '../../keys/signing-keys.js';
import type { keyView, revocationView, rotationView } from './schema.js';

/** The fields a signing key shows to the admin API and the CLI: never key material. */
export function presentKey(key: SigningKeySummary): z.infer<typeof keyView> {
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.status,
    created_at: key.createdAt.toISOString(),
    activated_at: key.activatedAt?.toISOString() ?? null,
    retired_at: key.retiredAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

export function presentRevocation(result: RevocationResult): z.infer<typeof revocationView> {
  return {
    revoked: result.revoked,
    previous_status: result.previousStatus,
    current: result.current,
    next: result.next,
    created: [...result.created],
  };
}

export function presentRotation(result: MaintenanceResult): z.infer<typeof rotationView> {
  return { promoted: result.promoted ?? null, retired: result.retired ?? null, created: result.created ?? null, removed: result.removed };
}
