import { parse } from 'node:querystring';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** Form bodies larger than this are refused (413); a request object fits comfortably. */
const MAX_FORM_BYTES = 64 * 1024;

/**
 * OIDC Core §3.1.2.1 (authorization endpoint) and RP-Initiated Logout §2
 * (end-session endpoint): both MUST accept POST with form parameters.
 * oidc-provider routes POST there only when its long-lived session cookie is
 * `SameSite=None`; Gatehouse keeps `Lax` cookies and serves a POST as the GET
 * with the same parameters instead. A cross-site POST then does not carry
 * the session cookie, so it asks the user to sign in again rather than
 * reusing a session (documented in the README).
 */
export function acceptPostedRequests(paths: readonly string[]) {
  const accepted = new Set(paths);
  const servePostAsGet = async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    const body = await readBody(ctx);
    if (body === undefined) ctx.throw(413, 'request body too large');
    // OIDC Core §3.1.2.1: a POST carries its parameters in the form body only.
    ctx.method = 'GET';
    ctx.query = parse(body);
    return next();
  };
  return function acceptPostedRequest(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
    // Anything but a form is left to oidc-provider, which does not route it (and passes with no async frame of its own).
    if (ctx.method !== 'POST' || !accepted.has(ctx.path) || !ctx.is('application/x-www-form-urlencoded')) return next();
    return servePostAsGet(ctx, next);
  };
}

async function readBody(ctx: KoaContextWithOIDC): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
