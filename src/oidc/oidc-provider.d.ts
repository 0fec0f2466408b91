import 'oidc-provider';

/**
 * Gatehouse's extra client metadata (RFC 7591 §2 allows extensions), declared
 * to oidc-provider in `extraClientMetadata.properties` (EXTRA_CLIENT_METADATA
 * in resource-indicators.ts). The engine hands each back on Client instances
 * under its own name (a seam: see provider-internals.ts and its test).
 */
declare module 'oidc-provider' {
  interface Client {
    /** The APIs the client may get tokens for, and the scopes it may ask for on each (resource-indicators.ts). */
    readonly api_access?: readonly { readonly resource: string; readonly scopes: readonly string[] }[] | undefined;
    /** RFC 8707 resource used for client_credentials when the request names none. */
    readonly default_resource?: string | undefined;
    /** API identifiers this client is the resource server for: it may introspect their tokens (RFC 7662 §4). */
    readonly introspection_resources?: readonly string[] | undefined;
  }
}
