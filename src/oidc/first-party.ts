import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/** A client registered with `first_party: true`: the operator's own app. */
export function isFirstParty(client: unknown): boolean {
  return (client as Record<string, unknown> | undefined)?.first_party === true;
}

/**
 * oidc-provider keeps `offline_access` only when the request says
 * `prompt=consent` (OIDC Core §11), so a single-page app would see the consent
 * page at every sign-in to keep its refresh token. A first-party client's
 * request for offline_access is treated as if it said prompt=consent; the
 * consent is then implied for such clients, without a consent interaction
 * (implied-consent.ts).
 * Not with prompt=none, which must stay silent.
 */
export function firstPartyOfflineAccess(provider: Provider) {
  const keepOfflineAccessForFirstParty = async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
    const { scope, prompt, client_id: clientId } = ctx.query;
    const prompts = typeof prompt === 'string' ? prompt.split(' ').filter(Boolean) : [];
    const wantsOffline = typeof scope === 'string' && scope.split(' ').includes('offline_access');
    if (wantsOffline && prompt !== undefined && typeof prompt !== 'string') return next(); // duplicate prompt: oidc-provider refuses it
    if (wantsOffline && !prompts.includes('consent') && !prompts.includes('none') && typeof clientId === 'string') {
      const client = await provider.Client.find(clientId).catch(() => undefined);
      if (isFirstParty(client)) ctx.query = { ...ctx.query, prompt: [...prompts, 'consent'].join(' ') };
    }
    return next();
  };
  // Only authorization requests; the rest (token requests among them) pass with no async frame of its own.
  return (ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> =>
    ctx.method === 'GET' && ctx.path === '/auth' ? keepOfflineAccessForFirstParty(ctx, next) : next();
}
