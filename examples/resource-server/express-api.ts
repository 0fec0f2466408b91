/**
 * An API on Express that accepts Gatehouse access tokens, with Auth0's
 * `express-oauth2-jwt-bearer`: `auth()` verifies the JWT (RFC 9068: issuer
 * from discovery, signature against the published keys, `aud`, `typ:
 * at+jwt`, expiry); `requiredScopes` and `claimCheck` decide per route.
 *
 *   node --import tsx examples/resource-server/express-api.ts <issuer> <audience> [port=4001]
 *
 * Register the API in Gatehouse with the same identifier as <audience>, and
 * turn on rbac and the permissions claim if routes check `permissions`.
 */
import { pathToFileURL } from 'node:url';
import express, { type ErrorRequestHandler } from 'express';
import { auth, claimCheck, InsufficientScopeError, requiredScopes, UnauthorizedError } from 'express-oauth2-jwt-bearer';

/** A route guard on the `permissions` claim (Gatehouse APIs with rbac and permissions_claim on). */
const requiredPermissions = (...needed: string[]) =>
  claimCheck((payload) => {
    const held = Array.isArray(payload.permissions) ? payload.permissions : [];
    // RFC 6750 §3.1: a valid token without the right to this route is a 403, not a 401.
    if (!needed.every((permission) => held.includes(permission))) throw new InsufficientScopeError(needed);
    return true;
  });

export function createExpressApi(options: { issuer: string; audience: string }) {
  const app = express();
  // Verifies every request's Bearer token (RFC 6750 §2.1). `strict` makes it
  // insist on the RFC 9068 shape: typ at+jwt, iat, sub, client_id, jti.
  // Gatehouse issues Bearer tokens only (DPoP is off there): no DPoP challenge.
  app.use(auth({ issuerBaseURL: options.issuer, audience: options.audience, strict: true, dpop: { enabled: false } }));

  app.get('/invoices', requiredScopes('read:invoices'), (req, res) => {
    res.json({ invoices: [{ id: 'inv-1', amount: 120 }], for: req.auth?.payload.sub });
  });
  app.post('/invoices', requiredPermissions('write:invoices'), (_req, res) => {
    res.status(201).json({ created: true });
  });

  // RFC 6750 §3: the library's errors carry the status and the WWW-Authenticate challenge.
  const answerAuthErrors: ErrorRequestHandler = (error, _req, res, next) => {
    if (!(error instanceof UnauthorizedError)) return next(error);
    // A request without a token gets the bare challenge and no error code (RFC 6750 §3.1).
    const code = 'code' in error && typeof error.code === 'string' && error.code ? error.code : 'invalid_token';
    res
      .status(error.status)
      .set(error.headers)
      .json({ error: code, error_description: error.message || 'a Bearer token is required' });
  };
  app.use(answerAuthErrors);
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [issuer, audience, port = '4001'] = process.argv.slice(2);
  if (!issuer || !audience) {
    console.error('usage: node --import tsx examples/resource-server/express-api.ts <issuer> <audience> [port=4001]');
    process.exit(2);
  }
  createExpressApi({ issuer, audience }).listen(Number(port), () => console.log(`invoices API (Express) on http://localhost:${port}`));
}
