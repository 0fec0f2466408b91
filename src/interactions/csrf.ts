import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * CSRF token for an interaction's forms: an HMAC of its uid. Only this server
 * can compute it, and the interaction itself is bound to the browser by
 * oidc-provider's interaction cookie.
 */
export function csrfToken(key: KeyObject, interactionUid: string): string {
  return createHmac('sha256', key).update(`interaction:${interactionUid}`).digest('base64url');
}

export function csrfTokenValid(key: KeyObject, interactionUid: string, presented: unknown): boolean {
  if (typeof presented !== 'string') return false;
  const expected = Buffer.from(csrfToken(key, interactionUid));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * The login form's token: numbered, so each submission uses one up and a
 * failed attempt renders the next (a token cannot be replayed for more
 * guesses). `n.HMAC(uid, n)`.
 */
export function loginFormToken(key: KeyObject, interactionUid: string, attempt: number): string {
  return `${attempt}.${createHmac('sha256', key).update(`login:${interactionUid}:${attempt}`).digest('base64url')}`;
}

/** The number of a genuine login form token of this interaction, else undefined. */
export function loginFormTokenNumber(key: KeyObject, interactionUid: string, presented: unknown): number | undefined {
  if (typeof presented !== 'string' || !/^\d{1,6}\.[\w-]{43}$/.test(presented)) return undefined;
  const attempt = Number.parseInt(presented, 10);
  const expected = Buffer.from(loginFormToken(key, interactionUid, attempt));
  const actual = Buffer.from(presented);
  return expected.length === actual.length && timingSafeEqual(expected, actual) ? attempt : undefined;
}
