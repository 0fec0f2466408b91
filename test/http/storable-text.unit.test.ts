import { describe, expect, it } from 'vitest';
import { findUnstorableText, isStorableText } from '../../src/http/storable-text.js';

describe('storable text', () => {
  it('refuses NUL and unpaired surrogates, and accepts paired ones', () => {
    expect(isStorableText('plain \u00e9 \ud83d\ude00')).toBe(true);
    expect(isStorableText('a\u0000')).toBe(false);
    expect(isStorableText('\ud800')).toBe(false);
    expect(isStorableText('x\udc00y')).toBe(false);
  });

  it('names the first field that carries one, keys included', () => {
    expect(findUnstorableText({ a: 'ok', b: ['ok', { c: 'bad\u0000' }] })).toBe('b.1.c');
    expect(findUnstorableText({ 'k\ud800': 1 })).toBe('"k\\ud800"');
    expect(findUnstorableText({ a: 1, b: null, c: ['x'] })).toBeUndefined();
  });
});
