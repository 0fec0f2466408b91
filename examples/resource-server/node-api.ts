/**
 * An API on plain node:http that accepts Gatehouse access tokens, with
 * `jose`: the keys come from the issuer's jwks_uri (discovery), and
 * `jwtVerify` checks what RFC 9068 §4 asks of a resource server: our
 * issuer, our audience, `typ: at+jwt`, an asymmetric signature, expiry.
 * Answers follow RFC 6750 §3: 401 `invalid_token` for a bad or missing
 * token, 403 `insufficient_scope` for a good token without the right.
 *
 *   node --import tsx examples/resource-server/node-api.ts <issuer> <audience> [port=4002]
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';

const REALM = 'invoices';

interface Route {
  readonly method: string;
  readonly path: string;
  /** Needed in the token's `scope`, or in its `permissions` claim. */
  readonly scope?: string;
  readonly permission?: string;
  handle(claims: JWTPayload): { status: number; body: unknown };
}

const routes: Route[] = [
  {
    method: 'GET',
    path: '/invoices',
    scope: 'read:invoices',
    handle: (claims) => ({ status: 200, body: { invoices: [{ id: 'inv-1', amount: 120 }], for: claims.sub } }),
  },
  { method: 'POST', path: '/invoices', permission: 'write:invoices', handle: () => ({ status: 201, body: { created: true } }) },
];

function send(res: ServerResponse, status: number, body: unknown, challenge?: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('cache-control', 'no-store');
  if (challenge) res.setHeader('www-authenticate', challenge);
  res.end(JSON.stringify(body));
}

/** RFC 6750 §3: the challenge, with the error and (for 403) the scope needed. */
function refuse(res: ServerResponse, status: 401 | 403, error: string, description: string, scope?: string): void {
  const challenge = `Bearer realm="${REALM}", error="${error}", error_description="${description.replace(/"/g, "'")}"${scope ? `, scope="${scope}"` : ''}`;
  send(res, status, { error, error_description: description }, challenge);
}

/** The Bearer token of the request (RFC 6750 §2.1), or undefined. */
function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer ([\w\-.~+/]+=*)$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

export async function createNodeApi(options: { issuer: string; audience: string }): Promise<RequestListener> {
  // The issuer's metadata names its key set (RFC 8414 §2); jose fetches and caches the keys.
  const metadataUrl = new URL('/.well-known/openid-configuration', options.issuer);
  const metadata = (await (await fetch(metadataUrl)).json()) as { issuer: string; jwks_uri: string };
  if (metadata.issuer !== options.issuer) throw new Error(`${metadataUrl} names issuer ${metadata.issuer}, not ${options.issuer}`);
  const keys = createRemoteJWKSet(new URL(metadata.jwks_uri));

  return async (req, res) => {
    const route = routes.find(
      (candidate) => candidate.method === req.method && candidate.path === new URL(req.url ?? '/', 'http://x').pathname,
    );
    if (!route) return send(res, 404, { error: 'not_found' });
    const token = bearerToken(req);
    // RFC 6750 §3.1: no credentials at all get the bare challenge, without an error code.
    if (!token)
      return send(res, 401, { error: 'invalid_token', error_description: 'a Bearer token is required' }, `Bearer realm="${REALM}"`);
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
        requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
      }));
    } catch (error) {
      return refuse(res, 401, 'invalid_token', `the access token is not valid: ${(error as Error).message}`);
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
    if (route.scope && !scopes.includes(route.scope))
      return refuse(res, 403, 'insufficient_scope', `this route needs the scope ${route.scope}`, route.scope);
    const permissions = Array.isArray(claims.permissions) ? claims.permissions : [];
    if (route.permission && !permissions.includes(route.permission)) {
      return refuse(res, 403, 'insufficient_scope', `this route needs the permission ${route.permission}`, route.permission);
    }
    const { status, body } = route.handle(claims);
    return send(res, status, body);
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [issuer, audience, port = '4002'] = process.argv.slice(2);
  if (!issuer || !audience) {
    console.error('usage: node --import tsx examples/resource-server/node-api.ts <issuer> <audience> [port=4002]');
    process.exit(2);
  }
  createServer(await createNodeApi({ issuer, audience })).listen(Number(port), () =>
    console.log(`invoices API (node:http) on http://localhost:${port}`),
  );
}
