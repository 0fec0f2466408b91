/** The engine's router, whose methods compose each route's middleware when it is registered (a seam: provider-internals.ts `constructWithSharedOidcGetter`). */
declare module 'oidc-provider/lib/helpers/router.js' {
  type RouteMiddleware = (ctx: unknown, next: () => Promise<void>) => unknown;
  type Register = (name: string, path: string, ...middleware: RouteMiddleware[]) => Router;

  export default class Router {
    get: Register;
    post: Register;
    put: Register;
    delete: Register;
    options: Register;
  }
}
