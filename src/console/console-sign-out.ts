import type { Context } from 'koa';
import type { SessionActivityStore } from '../account/session-activity.js';
import type { AuditContext } from '../audit/events.js';
import type { ProviderRef } from '../oidc/interaction-steps.js';
import { signedInSession } from '../oidc/provider-internals.js';
import type { ConsoleSessionStore } from './console-session.js';

export interface ConsoleSignOutDependencies {
  readonly sessions: ConsoleSessionStore;
  /** Users' Gatehouse browser sessions: ending one is audited and tells its apps (Back-Channel Logout 1.0 §2.7). */
  readonly browserSessions: SessionActivityStore;
  readonly provider: ProviderRef;
}

/**
 * The console's sign-out signs the admin out of Gatehouse too, in the same
 * request, as Keycloak's and Auth0's consoles do: on a shared computer, a
 * closed tab must not leave a Gatehouse session that signs the next person
 * straight back in. The Gatehouse session ended is the one the console was
 * signed in from (recorded at the sign-in), and this browser's own if it is
 * the same admin's, through the same path as the account page's and the
 * users page's "sign out" of one session.
 */
export function createConsoleSignOut(deps: ConsoleSignOutDependencies) {
  /** The browser's signed-in Gatehouse session (its `_session` cookie), if it is this user's. */
  const browserSessionOf = async (ctx: Context, userId: string): Promise<string | undefined> => {
    const session = await signedInSession(deps.provider, ctx.req, ctx.res);
    return session?.accountId === userId ? session.uid : undefined;
  };

  return {
    /** At the console's sign-in (the callback): the Gatehouse session the browser signed in with. */
    originOf: browserSessionOf,

    /**
     * Ends the console session of this cookie token and the Gatehouse session
     * it was signed in from, in one transaction: both end, or neither (a
     * failure throws, and the admin is still signed in). Nothing to end is no
     * failure (an idle timeout, a second click).
     */
    async signOut(ctx: Context, token: string): Promise<void> {
      const session = await deps.sessions.find(token);
      if (!session) return;
      // The session the console was signed in from, and the browser's own if it is the same admin's but another
      // (the first one ended elsewhere and the admin signed in again): either would sign the next visitor in.
      const current = await browserSessionOf(ctx, session.userId);
      const uids = [session.sessionUid, current].filter((uid): uid is string => Boolean(uid));
      if (uids.length === 0) {
        await deps.sessions.end(token);
        return;
      }
      const audit: AuditContext = {
        actor: `user:${session.userId}`,
        requestId: String(ctx.state.requestId ?? ''),
        clientIp: ctx.ip,
      };
      // Audited as user.sessions_revoked (actor and subject: the admin), as every end of a browser session is.
      await deps.browserSessions.endSession(session.userId, uids, audit, (tx) => deps.sessions.end(token, tx));
    },
  };
}

export type ConsoleSignOut = ReturnType<typeof createConsoleSignOut>;
