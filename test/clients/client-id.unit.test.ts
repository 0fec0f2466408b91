import { describe, expect, it } from 'vitest';
import { generateClientId } from '../../src/clients/clients.js';

describe('generated client ids', () => {
  it('never start with a dash or an underscore, whatever the random bytes, so a CLI never reads one as an option', () => {
    // Every possible first byte, deterministically: 0xF8-0xFB encode a leading "-", 0xFC-0xFF a leading "_".
    for (let first = 0; first < 256; first++) {
      for (const rest of [0x00, 0xff]) {
        const id = generateClientId(Uint8Array.from([first, ...Array<number>(15).fill(rest)]));
        expect(id, `first byte ${first}`).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
      }
    }
  });

  it('keeps the other 21 characters as the random bytes encode them', () => {
    const bytes = Uint8Array.from([0xfb, ...Array<number>(15).fill(0xfb)]);
    expect(Buffer.from(bytes).toString('base64url').startsWith('-')).toBe(true);
    expect(generateClientId(bytes).slice(1)).toBe(Buffer.from(bytes).toString('base64url').slice(1));
  });

  it('draws fresh random bytes for each id', () => {
    const ids = Array.from({ length: 100 }, () => generateClientId());
    expect(new Set(ids).size).toBe(ids.length);
  });
});
