import { describe, expect, it } from 'vitest';
import { refreshTokenLifetime } from '../../src/oidc/provider.js';

describe('refresh token lifetime', () => {
  const ttl = { refreshToken: 30 * 86400, refreshTokenIdle: 14 * 86400 };

  it('is the idle lifetime while the family is young', () => {
    expect(refreshTokenLifetime({ now: 1000, familyStart: 1000, ...ttl })).toBe(14 * 86400);
  });

  it('is cut short by what is left of the absolute lifetime', () => {
    expect(refreshTokenLifetime({ now: 1000 + 20 * 86400, familyStart: 1000, ...ttl })).toBe(10 * 86400);
  });

  it('never goes below one second', () => {
    expect(refreshTokenLifetime({ now: 1000 + 31 * 86400, familyStart: 1000, ...ttl })).toBe(1);
  });
});
