/**
 * The routes oidc-provider serves with Gatehouse's configuration (its default
 * `routes`, the features enabled in provider.ts), by method. oidc-provider
 * answers any other request with a bare 404; this table lets Gatehouse say
 * 405 and `Allow` instead where the path exists. GET routes serve HEAD too;
 * OPTIONS is its CORS preflight. test/oidc/protocol-routes.test.ts checks the
 * table against the engine.
 */
const PROTOCOL_ROUTES: readonly { readonly path: RegExp; readonly methods: readonly string[] }[] = [
  // POST as a form: post-requests.ts serves it as the GET.
  { path: /^\/auth$/, methods: ['GET', 'HEAD', 'POST'] },
  { path: /^\/auth\/[^/]+$/, methods: ['GET', 'HEAD'] },
  { path: /^\/me$/, methods: ['GET', 'HEAD', 'POST', 'OPTIONS'] },
  { path: /^\/token$/, methods: ['POST', 'OPTIONS'] },
  { path: /^\/token\/(introspection|revocation)$/, methods: ['POST', 'OPTIONS'] },
  { path: /^\/jwks$/, methods: ['GET', 'HEAD', 'OPTIONS'] },
  { path: /^\/\.well-known\/(openid-configuration|oauth-authorization-server)$/, methods: ['GET', 'HEAD', 'OPTIONS'] },
  { path: /^\/session\/end$/, methods: ['GET', 'HEAD', 'POST'] },
  // RFC 9126 pushed authorization requests.
  { path: /^\/request$/, methods: ['POST', 'OPTIONS'] },
  { path: /^\/session\/end\/success$/, methods: ['GET', 'HEAD'] },
  { path: /^\/session\/end\/confirm$/, methods: ['POST'] },
  { path: /^\/device\/?$/, methods: ['GET', 'HEAD', 'POST'] },
  { path: /^\/device\/auth$/, methods: ['POST', 'OPTIONS'] },
  // The device flow's return from sign-in (device_resume); it matches /device/auth for GET as well.
  { path: /^\/device\/[^/]+\/?$/, methods: ['GET', 'HEAD'] },
];

/** The methods oidc-provider serves on `path` (oidc-provider matches paths case-insensitively). */
export function protocolMethodsFor(path: string): string[] {
  const lower = path.toLowerCase();
  return [...new Set(PROTOCOL_ROUTES.filter((route) => route.path.test(lower)).flatMap((route) => route.methods))];
}
