import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * CSRF token for an interaction's forms: an HMAC of its uid. Only this server
 * can compute it, and the interaction itself is bound to the browser by
 * oidc-provider's interaction cookie.
 */
export function csrfToken(key: Buffer, interactionUid: string): string {
  return createHmac('sha256', key).update(`interaction:${interactionUid}`).digest('base64url');
}

export function csrfTokenValid(key: Buffer, interactionUid: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(csrfToken(key, interactionUid));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
