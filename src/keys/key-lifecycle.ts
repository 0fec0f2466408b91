/**
 * The signing-key lifecycle as pure functions: what to change, given the keys
 * and the time. The store (signing-keys.ts) applies a plan in one locked
 * transaction.
 *
 *   next ──(published ≥ lead time, rotation due)──▶ current ──▶ retired ──(retention over)──▶ removed
 *
 * A `next` key is in the JWKS long before it signs, so a resource server that
 * caches the JWKS (for at most its max-age, shorter than the lead time) always
 * knows a key before it sees a token signed by it.
 */

export type KeyStatus = 'next' | 'current' | 'retired';

export interface KeyState {
  readonly kid: string;
  readonly status: KeyStatus;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  readonly retiredAt: Date | null;
}

export interface RotationPolicy {
  /** Seconds a key signs before the schedule rotates it. */
  readonly rotationInterval: number;
  /** Seconds a `next` key must have been published before it may sign. */
  readonly publishLead: number;
  /** Seconds a retired key stays published: the longest lifetime of a token it signed, plus clock skew. */
  readonly retiredRetention: number;
}

export interface MaintenancePlan {
  /** `next` key to make `current`. */
  readonly promote?: string;
  /** `current` key to retire (always together with a promotion). */
  readonly retire?: string;
  /** Whether to generate a new `next` key. */
  readonly createNext: boolean;
  /** Retired keys whose retention is over: leave the JWKS. */
  readonly remove: string[];
  /** Set when a rotation is due (or forced) but the `next` key is too young to sign. */
  readonly promotableAt?: Date;
}

const seconds = (value: number) => value * 1000;

export function isRotationDue(current: KeyState | undefined, now: Date, policy: RotationPolicy): boolean {
  if (!current) return true;
  const since = current.activatedAt ?? current.createdAt;
  return now.getTime() >= since.getTime() + seconds(policy.rotationInterval);
}

/** When a `next` key may start signing: one lead time after it was published. */
export function promotableAt(next: KeyState, policy: RotationPolicy): Date {
  return new Date(next.createdAt.getTime() + seconds(policy.publishLead));
}

/**
 * What to do now. `force` rotates before the schedule (an operator's request),
 * but never promotes a key that has not been published for the lead time.
 */
export function planKeyMaintenance(
  keys: readonly KeyState[],
  now: Date,
  policy: RotationPolicy,
  options: { force?: boolean } = {},
): MaintenancePlan {
  const current = keys.find((key) => key.status === 'current');
  const next = keys.filter((key) => key.status === 'next').sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  const remove = keys
    .filter((key) => key.status === 'retired')
    .filter((key) => now.getTime() >= (key.retiredAt ?? key.createdAt).getTime() + seconds(policy.retiredRetention))
    .map((key) => key.kid);

  const due = options.force || isRotationDue(current, now, policy);
  if (due && next) {
    const readyAt = promotableAt(next, policy);
    if (now.getTime() >= readyAt.getTime()) {
      return { promote: next.kid, retire: current?.kid, createNext: true, remove };
    }
    return { createNext: false, remove, promotableAt: readyAt };
  }
  return { createNext: !next, remove };
}

/** The order oidc-provider needs: it signs with the first key of an algorithm. */
export function publicationOrder(status: string): number {
  return ({ current: 0, next: 1, retired: 2 } as Record<string, number>)[status] ?? 3;
}
