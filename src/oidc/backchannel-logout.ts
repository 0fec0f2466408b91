import { setTimeout as sleep } from 'node:timers/promises';
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import type { Logger } from '../log.js';

export interface BackchannelLogoutSettings {
  /** Deliveries per logout token, first try included. */
  readonly attempts: number;
  /** Before the first retry; doubles for each later one. */
  readonly retryDelaySeconds: number;
}

/** A session that ended, as stored: client id → that client's session id (`sid`). */
export interface EndedSession {
  readonly authorizations: Record<string, { readonly sid?: string }>;
}

interface ClientWithLogout {
  readonly clientId: string;
  readonly backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}

/**
 * OpenID Connect Back-Channel Logout 1.0. oidc-provider signs the logout
 * token (§2.4) and POSTs it to each client of the ending session that
 * registered a `backchannel_logout_uri` (§2.5), but it waits for every client
 * before it answers the user and tries once. Gatehouse hands each delivery to
 * the background instead: the logout page never waits, and a failed or timed
 * out delivery is tried again with a doubling delay (§2.8 lets the OP retry;
 * each try is a fresh token with its own `jti`). Deliveries live in memory: a
 * restart drops the retries still pending.
 */
export function deliverLogoutTokensInBackground(provider: Provider, settings: BackchannelLogoutSettings, log: Logger): void {
  const prototype = provider.Client.prototype as unknown as ClientWithLogout;
  const sendOnce = prototype.backchannelLogout;
  prototype.backchannelLogout = function sendInBackground(this: ClientWithLogout, sub, sid) {
    void deliver(() => sendOnce.call(this, sub, sid), this.clientId, settings, log);
    return Promise.resolve();
  };
}

async function deliver(send: () => Promise<void>, clientId: string, settings: BackchannelLogoutSettings, log: Logger): Promise<void> {
  for (let attempt = 1; attempt <= settings.attempts; attempt += 1) {
    try {
      await send();
      return;
    } catch (error) {
      const last = attempt === settings.attempts;
      log.warn(`back-channel logout to client ${clientId} failed (try ${attempt} of ${settings.attempts}${last ? ', giving up' : ''}): ${(error as Error).message}`);
      if (last) return;
      await sleep(settings.retryDelaySeconds * 1000 * 2 ** (attempt - 1), undefined, { ref: false });
    }
  }
}

/**
 * Sends logout tokens for sessions ended outside the logout page (a user
 * disabled or deleted, their sessions revoked, their password changed):
 * each client of each session that registered a back-channel logout URI is
 * told, in the background.
 */
export async function notifyEndedSessions(provider: Provider, accountId: string, sessions: readonly EndedSession[]): Promise<void> {
  for (const session of sessions) {
    for (const [clientId, { sid }] of Object.entries(session.authorizations)) {
      const client = (await provider.Client.find(clientId).catch(() => undefined)) as unknown as ClientWithLogout | undefined;
      if (client?.backchannelLogoutUri) await client.backchannelLogout(accountId, sid);
    }
  }
}

/**
 * Outgoing requests (logout tokens, clients' jwks_uri) time out after the
 * configured seconds; loopback and private addresses are refused unless
 * allowed (oidc-provider's protection against request forgery).
 */
export function outboundFetch(settings: { timeoutSeconds: number; allowPrivateNetworks: boolean }): NonNullable<Configuration['fetch']> {
  return (url, options) => {
    const { dispatcher: _ssrfGuard, ...rest } = options as RequestInit & { dispatcher?: unknown };
    const init = { ...(settings.allowPrivateNetworks ? rest : options), signal: AbortSignal.timeout(settings.timeoutSeconds * 1000) };
    return globalThis.fetch(url, init);
  };
}
