import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { ProviderRef } from './interaction-steps.js';

export interface SignedInSession {
  readonly uid: string;
  readonly accountId: string;
}

/**
 * The browser's signed-in session at Gatehouse (its `_session` cookie), if any.
 * Seam, oidc-provider 9.13 (lib/models/session.js `get`): Session.get reads the
 * cookie through a context made with the provider's own `createContext`, and
 * returns an unsaved, account-less session when there is none.
 * test/account/account-routes.test.ts covers it.
 */
export async function signedInSession(ref: ProviderRef, req: IncomingMessage, res: ServerResponse): Promise<SignedInSession | undefined> {
  const provider = ref.current;
  const session = await provider.Session.get(provider.createContext(req, res));
  return session.accountId ? { uid: session.uid, accountId: session.accountId } : undefined;
}

/**
 * Seam, oidc-provider 9.13 (lib/models/base_model.js `emit`): `session.saved` is
 * emitted inside the request, so `Provider.ctx` is that request's context.
 * Calls `record` whenever a signed-in session is saved (at sign-in, and when
 * it is used again), with the request's client IP and browser.
 */
export function onSessionUse(
  provider: Provider,
  record: (session: { uid: string; accountId: string; expiresAt: Date }, from: { ip: string; userAgent: string }) => Promise<void>,
  warn: (message: string) => void,
): void {
  provider.on('session.saved', (session: { uid: string; accountId?: string; exp?: number }) => {
    const ctx: KoaContextWithOIDC | undefined = Provider.ctx;
    if (!ctx || !session.accountId || !session.exp) return;
    record(
      { uid: session.uid, accountId: session.accountId, expiresAt: new Date(session.exp * 1000) },
      { ip: ctx.ip, userAgent: ctx.get('user-agent') },
    ).catch((error: unknown) => warn(`session activity: ${(error as Error).message}`));
  });
}
