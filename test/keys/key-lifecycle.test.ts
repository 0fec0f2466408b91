import { describe, expect, it } from 'vitest';
import { planKeyMaintenance, planRevocation, publicationOrder, type KeyState, type RotationPolicy } from '../../src/keys/key-lifecycle.js';

const DAY = 86400;
const policy: RotationPolicy = { rotationInterval: 30 * DAY, publishLead: DAY, retiredRetention: 3600 };
const at = (day: number) => new Date(Date.UTC(2026, 0, 1) + day * DAY * 1000);
const key = (kid: string, status: KeyState['status'], created: number, activated?: number, retired?: number): KeyState => ({
  kid,
  status,
  createdAt: at(created),
  activatedAt: activated === undefined ? null : at(activated),
  retiredAt: retired === undefined ? null : at(retired),
});

describe('key lifecycle', () => {
  const fresh = [key('a', 'current', 0, 0), key('b', 'next', 0)];

  it('does nothing while the current key is within its rotation interval', () => {
    expect(planKeyMaintenance(fresh, at(29), policy)).toEqual({ createNext: false, remove: [] });
  });

  it('on schedule promotes next to current, retires current and creates a new next', () => {
    expect(planKeyMaintenance(fresh, at(30), policy)).toEqual({ promote: 'b', retire: 'a', createNext: true, remove: [] });
  });

  it('never promotes a next key published for less than the lead time, even when forced', () => {
    const young = [key('a', 'current', 0, 0), key('b', 'next', 29.5)];
    const plan = planKeyMaintenance(young, at(30), policy);
    expect(plan.promote).toBeUndefined();
    expect(plan.promotableAt).toEqual(at(30.5));
    expect(planKeyMaintenance(young, at(30), policy, { force: true }).promote).toBeUndefined();
    expect(planKeyMaintenance(young, at(30.5), policy).promote).toBe('b');
  });

  it('rotates early on request once the next key has been published long enough', () => {
    expect(planKeyMaintenance(fresh, at(2), policy, { force: true })).toMatchObject({ promote: 'b', retire: 'a', createNext: true });
  });

  it('keeps a next key published at all times', () => {
    expect(planKeyMaintenance([key('a', 'current', 0, 0)], at(1), policy)).toEqual({ createNext: true, remove: [] });
  });

  it('removes a retired key only after its retention (the longest token lifetime plus skew)', () => {
    const keys = [...fresh, key('old', 'retired', -60, -30, 0)];
    expect(planKeyMaintenance(keys, new Date(at(0).getTime() + 3599_000), policy).remove).toEqual([]);
    expect(planKeyMaintenance(keys, new Date(at(0).getTime() + 3600_000), policy).remove).toEqual(['old']);
  });

  it('promotes the oldest of several next keys', () => {
    const keys = [key('a', 'current', 0, 0), key('newer', 'next', 5), key('older', 'next', 1)];
    expect(planKeyMaintenance(keys, at(30), policy).promote).toBe('older');
  });

  it('orders keys for oidc-provider with the signing key first', () => {
    expect(['retired', 'next', 'current'].sort((a, b) => publicationOrder(a) - publicationOrder(b))).toEqual([
      'current',
      'next',
      'retired',
    ]);
  });

  describe('emergency revocation', () => {
    const keys = [key('a', 'current', 0, 0), key('b', 'next', 29.9), key('old', 'retired', -30, -30, 0), key('gone', 'revoked', -60)];

    it('replaces a revoked current key with the next one at once, however young, and prepares a new next key', () => {
      expect(planRevocation(keys, 'a')).toEqual({
        revoke: 'a',
        wasStatus: 'current',
        promote: 'b',
        createCurrent: false,
        createNext: true,
      });
    });

    it('makes a new current key when there is no next key to promote', () => {
      expect(planRevocation([key('a', 'current', 0, 0)], 'a')).toEqual({
        revoke: 'a',
        wasStatus: 'current',
        createCurrent: true,
        createNext: true,
      });
    });

    it('replaces a revoked next key; a retired key only leaves', () => {
      expect(planRevocation(keys, 'b')).toEqual({ revoke: 'b', wasStatus: 'next', createCurrent: false, createNext: true });
      expect(planRevocation(keys, 'old')).toEqual({ revoke: 'old', wasStatus: 'retired', createCurrent: false, createNext: false });
    });

    it('tells an unknown kid from one already revoked', () => {
      expect(planRevocation(keys, 'nope')).toBe('unknown');
      expect(planRevocation(keys, 'gone')).toBe('already_revoked');
    });
  });
});
