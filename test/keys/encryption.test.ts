import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seal, unseal, UnsealError } from '../../src/keys/encryption.js';

describe('AES-256-GCM sealing', () => {
  const key = createSecretKey(randomBytes(32));

  it('round-trips and never contains the plaintext', () => {
    const sealed = seal('{"d":"private"}', key, 'kid-1');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('private');
    expect(unseal(sealed, key, 'kid-1')).toBe('{"d":"private"}');
  });

  it('uses a fresh nonce each time', () => {
    expect(seal('same', key, 'kid')).not.toBe(seal('same', key, 'kid'));
  });

  it('refuses a tampered ciphertext', () => {
    const [version, nonce, tag, ciphertext] = seal('secret material', key, 'kid').split('.');
    const flipped = Buffer.from(ciphertext as string, 'base64url');
    flipped[0] = (flipped[0] as number) ^ 1;
    expect(() => unseal([version, nonce, tag, flipped.toString('base64url')].join('.'), key, 'kid')).toThrow(UnsealError);
  });

  it('refuses the wrong key and a ciphertext moved to another row', () => {
    const sealed = seal('secret material', key, 'kid-1');
    expect(() => unseal(sealed, createSecretKey(randomBytes(32)), 'kid-1')).toThrow(/wrong GATEHOUSE_SECRET or tampered/);
    expect(() => unseal(sealed, key, 'kid-2')).toThrow(UnsealError);
  });

  it('refuses garbage', () => {
    expect(() => unseal('not sealed', key, 'kid')).toThrow(UnsealError);
  });
});
