import { createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

const PREFIX = 'hmac-sha256$';

/** 256 bits from the CSPRNG: high-entropy, so a keyed fast hash is enough at rest. */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashClientSecret(secret: string, key: KeyObject): string {
  return PREFIX + createHmac('sha256', key).update(secret, 'utf8').digest('base64url');
}

/** Constant-time comparison of a presented secret against the stored hash. */
export function clientSecretMatches(presented: string, storedHash: string, key: KeyObject): boolean {
  const expected = Buffer.from(storedHash);
  const actual = Buffer.from(hashClientSecret(presented, key));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
