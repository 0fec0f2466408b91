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
 *
 * An emergency revocation (planRevocation) skips that wait: any published key
 * ──▶ revoked, at once; it is never published or used again.
 */

export type KeyStatus = 'next' | 'current' | 'retired' | 'revoked';

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

/** What an emergency revocation of one key changes, applied in one locked transaction. */
export interface RevocationPlan {
  readonly revoke: string;
  /** The revoked key's status before: `current`, `next` or `retired`. */
  readonly wasStatus: Exclude<KeyStatus, 'revoked'>;
  /** The `next` key that signs from now on (the revoked key was current and a next key exists). */
  readonly promote?: string;
  /** Generate a new key that signs at once (the revoked key was current and no next key exists). */
  readonly createCurrent: boolean;
  /** Generate a new `next` key (the old one was promoted or revoked). */
  readonly createNext: boolean;
}

/**
 * An emergency revocation: the key leaves the JWKS now, whatever the lead
 * time. A revoked `current` key is replaced by the `next` key at once (even
 * one published for less than the lead time: resource servers that cached
 * the JWKS refetch it on the unknown kid), else by a new key; a new `next`
 * key is prepared. A `retired` key only leaves the JWKS (its tokens stop
 * verifying). Unknown kid: `unknown`; already revoked: `already_revoked`.
 */
export function planRevocation(keys: readonly KeyState[], kid: string): RevocationPlan | 'unknown' | 'already_revoked' {
  const key = keys.find((candidate) => candidate.kid === kid);
  if (!key) return 'unknown';
  if (key.status === 'revoked') return 'already_revoked';
  const next = keys.filter((candidate) => candidate.status === 'next').sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  switch (key.status) {
    case 'current':
      return next
        ? { revoke: kid, wasStatus: 'current', promote: next.kid, createCurrent: false, createNext: true }
        : { revoke: kid, wasStatus: 'current', createCurrent: true, createNext: true };
    case 'next':
      return { revoke: kid, wasStatus: 'next', createCurrent: false, createNext: true };
    default:
      return { revoke: kid, wasStatus: 'retired', createCurrent: false, createNext: !next };
  }
}

/** The order oidc-provider needs: it signs with the first key of an algorithm. */
export function publicationOrder(status: string): number {
  return ({ current: 0, next: 1, retired: 2 } as Record<string, number>)[status] ?? 3;
}
