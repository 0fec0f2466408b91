import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import { runPeriodically } from '../jobs/run-periodically.js';
import type { Logger } from '../log.js';
import type { LogoutOutbox, PendingLogout } from './backchannel-logout-store.js';
import { logoutTokenSender, replaceBackchannelLogout } from './provider-internals.js';

export interface BackchannelLogoutSettings {
  /** Deliveries per logout token, first try included. */
  readonly attempts: number;
  /** Before the first retry; doubles for each later one. Also how often queued tokens are looked for. */
  readonly retryDelaySeconds: number;
}

/**
 * OpenID Connect Back-Channel Logout 1.0. oidc-provider signs the logout
 * token (§2.4) and POSTs it to each client of the ending session that
 * registered a `backchannel_logout_uri` (§2.5), but it makes the user's
 * logout page wait for every client and tries once. Gatehouse queues each
 * token in Postgres instead (table backchannel_logouts, which also receives
 * the tokens of sessions ended by an admin, in that change's transaction);
 * the delivery job sends them.
 */
export function queueLogoutTokens(
  provider: Provider,
  queue: (logout: { clientId: string; accountId: string; sid: string | undefined }) => Promise<void>,
): void {
  replaceBackchannelLogout(provider, queue);
}

export interface LogoutDelivery {
  /** Look for queued tokens now (after a logout or an admin change), not at the next tick. */
  kick(): void;
  stop(): Promise<void>;
}

const BATCH = 20;

/**
 * Delivers queued logout tokens: every `retryDelaySeconds`, and at once when
 * kicked. A failed or timed-out delivery (§2.8 lets the OP retry) is tried
 * again after a doubling delay, each time with a fresh token (its own `jti`),
 * until `attempts` tries; then it is dropped with a warning. Each row is
 * claimed by one instance at a time.
 */
export function deliverQueuedLogouts(deps: {
  outbox: LogoutOutbox;
  /** Undefined until the provider is built: nothing is claimed before. */
  provider: () => Provider | undefined;
  settings: BackchannelLogoutSettings;
  /** Seconds one delivery may take (the outbound timeout): a claim lasts longer. */
  timeoutSeconds: number;
  log: Logger;
}): LogoutDelivery {
  const { outbox, settings, log } = deps;
  let running: Promise<void> | undefined;
  let again = false;

  const deliverOne = async (provider: Provider, logout: PendingLogout) => {
    const sendLogoutTokenNow = await logoutTokenSender(provider, logout.clientId);
    if (!sendLogoutTokenNow) return outbox.forget(logout.id);
    try {
      await sendLogoutTokenNow(logout.accountId, logout.sid ?? undefined);
      await outbox.forget(logout.id);
    } catch (error) {
      const last = logout.attempts >= settings.attempts;
      log.warn(
        `back-channel logout to client ${logout.clientId} failed (try ${logout.attempts} of ${settings.attempts}${last ? ', giving up' : ''}): ${(error as Error).message}`,
      );
      await (last ? outbox.forget(logout.id) : outbox.retryIn(logout.id, settings.retryDelaySeconds * 2 ** (logout.attempts - 1)));
    }
  };
  const deliverDue = async () => {
    for (;;) {
      const provider = deps.provider();
      if (!provider) return;
      const due = await outbox.claimDue(BATCH, deps.timeoutSeconds * 2 + 5);
      await Promise.all(
        due.map((logout) =>
          deliverOne(provider, logout).catch((error: unknown) => log.warn(`back-channel logout: ${(error as Error).message}`)),
        ),
      );
      if (due.length < BATCH) return;
    }
  };
  const kick = () => {
    if (running) {
      again = true;
      return;
    }
    running = deliverDue()
      .catch((error: unknown) => log.warn(`back-channel logout: ${(error as Error).message}`))
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          kick();
        }
      });
  };
  const schedule = runPeriodically('back-channel logout', settings.retryDelaySeconds, async () => kick(), log);
  return {
    kick,
    async stop() {
      await schedule.stop();
      await running;
    },
  };
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
