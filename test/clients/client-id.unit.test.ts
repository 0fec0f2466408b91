import { describe, expect, it } from 'vitest';
import { generateClientId } from '../../src/clients/clients.js';

describe('generated client ids', () => {
  it('never start with a dash or an underscore, so a CLI never reads one as an option', () => {
    // About 1 in 32 base64url ids starts with - or _; 2,000 draws would show it.
    const ids = Array.from({ length: 2000 }, generateClientId);
    expect(ids.filter((id) => !/^[A-Za-z0-9]/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
  });
});
