/**
 * Seconds a client is told to wait (RFC 9110 §10.2.3 Retry-After) when a
 * request could not be served for now: the database is not answering, or too
 * many sign-ins are queued.
 */
export const RETRY_AFTER_SECONDS = 5;

/** The headers of every 503 Gatehouse sends. */
export const RETRY_LATER: Readonly<Record<string, string>> = { 'Retry-After': String(RETRY_AFTER_SECONDS) };
