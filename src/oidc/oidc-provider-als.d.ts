/** The engine's AsyncLocalStorage, a module of its own (a seam: provider-internals.ts `engineContextStore`). */
declare module 'oidc-provider/lib/helpers/als.js' {
  import type { AsyncLocalStorage } from 'node:async_hooks';

  const store: AsyncLocalStorage<unknown>;
  export default store;
}
