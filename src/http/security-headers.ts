import type { Middleware } from 'koa';

// script-src is listed so oidc-provider can append the hash of its form_post
// auto-submit script (helpers/script_src_sha.js); our own pages use only the
// passkey scripts served from /assets, which fetch a challenge (connect-src).
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "connect-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Headers for every response, oidc-provider's included. A plain function
 * returning `next()` (no async frame of its own): it runs on every token request.
 */
export function securityHeaders(options: { https: boolean }): Middleware {
  return (ctx, next) => {
    ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    if (options.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    return next();
  };
}
