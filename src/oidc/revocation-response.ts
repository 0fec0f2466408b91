import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * RFC 7009 §2.2: a successful revocation is an HTTP 200 whose body is not
 * used. oidc-provider sends an empty `text/plain` body (and Gatehouse's JWT
 * path an empty "JSON" one); oidc-client-ts rejects both. Every successful
 * revocation here answers 200 with no body and no Content-Type.
 */
export function emptyRevocationResponses() {
  return async function answerRevocationWithoutBody(ctx: KoaContextWithOIDC, next: () => Promise<void>) {
    await next();
    if (ctx.oidc?.route !== 'revocation' || ctx.status !== 200) return;
    // Koa turns a null body into a 204; an empty string keeps the 200 and Content-Length: 0.
    ctx.body = '';
    ctx.remove('Content-Type');
  };
}
