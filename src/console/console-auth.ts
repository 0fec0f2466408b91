import { createHash, createHmac, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { Context } from 'koa';
import type { User, UserService } from '../accounts/users.js';
import type { RoleService } from '../accounts/roles.js';
import { scopeAllows, type AdminCaller } from '../admin/admin-auth.js';
import type { AuditContext } from '../audit/events.js';
import { publicPart, type SigningKeySet } from '../keys/signing-keys.js';
import { CONSOLE_CALLBACK_PATH, CONSOLE_CLIENT_ID, consoleClientSecret } from './console-client.js';
import type { ConsoleSession, ConsoleSessionStore } from './console-session.js';

/** The cookie of a console session: HttpOnly, SameSite=Strict, Secure under https, only for /console. */
export const SESSION_COOKIE = 'gatehouse_console';
/** The sign-in in progress: its state, from which the PKCE verifier and nonce are derived. */
export const LOGIN_COOKIE = 'gatehouse_console_login';

export interface ConsoleAuthDependencies {
  readonly issuer: string;
  readonly https: boolean;
  /** Keys the master secret derives: the client secret, the verifier and nonce of each sign-in, and the forms' CSRF tokens. */
  readonly key: KeyObject;
  /** Where this instance answers itself (loopback): the token request goes there. */
  readonly ownUrl: () => string;
  readonly currentKeys: () => SigningKeySet;
  readonly users: UserService;
  readonly roles: RoleService;
  readonly adminResource: string;
  readonly sessions: ConsoleSessionStore;
  /** Seconds a sign-in may take (the login cookie's lifetime). */
  readonly signInTtl: number;
}

/** The signed-in admin on a console page: who, with which admin scopes, and the audit context of their actions. */
export interface ConsoleAdmin {
  readonly user: User;
  readonly session: ConsoleSession;
  readonly caller: AdminCaller;
  readonly audit: AuditContext;
  /** Whether the admin's roles grant this admin scope (`admin`, or the area's read/write scope). */
  can(scope: string): boolean;
}

/** The admin scopes a user's roles grant: the permissions they hold on the admin API (the `admin` role grants them all). */
export async function adminScopesOf(roles: RoleService, userId: string, adminResource: string): Promise<ReadonlySet<string>> {
  const permissions = await roles.permissionsOf(userId, adminResource);
  return new Set(permissions[adminResource] ?? []);
}

/** Whether these scopes let one into the console at all: any admin scope does; the pages then check each. */
export const mayEnterConsole = (scopes: ReadonlySet<string>): boolean => scopes.size > 0;

export function cookie(name: string, value: string, options: { https: boolean; sameSite: 'Strict' | 'Lax'; maxAge?: number }): string {
  return [
    `${name}=${value}`,
    'Path=/console',
    'HttpOnly',
    `SameSite=${options.sameSite}`,
    ...(options.https ? ['Secure'] : []),
    ...(options.maxAge !== undefined ? [`Max-Age=${options.maxAge}`] : []),
  ].join('; ');
}

export function readCookie(ctx: Context, name: string): string | undefined {
  for (const part of (ctx.get('cookie') || '').split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) return part.slice(separator + 1).trim();
  }
  return undefined;
}

const derive = (key: KeyObject, purpose: string, state: string) =>
  createHmac('sha256', key).update(`console:${purpose}:${state}`).digest('base64url');

/** Only a path of the console itself is a place to come back to after the sign-in. */
function safeReturnPath(path: string): string {
  return /^\/console(\/[\w\-./]*)?$/.test(path) && !path.includes('..') ? path : '/console';
}

export function createConsoleAuth(deps: ConsoleAuthDependencies) {
  const redirectUri = `${deps.issuer}${CONSOLE_CALLBACK_PATH}`;
  let jwks: { fingerprint: string; resolve: ReturnType<typeof createLocalJWKSet> } | undefined;
  const keyResolver = () => {
    const keys = deps.currentKeys();
    if (jwks?.fingerprint !== keys.fingerprint) {
      jwks = { fingerprint: keys.fingerprint, resolve: createLocalJWKSet({ keys: keys.keys.map((key) => publicPart(key)) }) };
    }
    return jwks.resolve;
  };

  return {
    /**
     * Not signed in: the usual sign-in at Gatehouse, as the console's own
     * client: authorization code with PKCE S256 (RFC 7636 §4.2), state and nonce.
     */
    startSignIn(ctx: Context): void {
      const state = randomBytes(24).toString('base64url');
      const returnTo = ctx.method === 'GET' ? safeReturnPath(ctx.path) : '/console';
      const verifier = derive(deps.key, 'verifier', state);
      const query = new URLSearchParams({
        client_id: CONSOLE_CLIENT_ID,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: 'openid',
        state,
        nonce: derive(deps.key, 'nonce', state),
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      ctx.append(
        'Set-Cookie',
        // Lax: the sign-in comes back through a redirect chain that may have started on another site.
        cookie(LOGIN_COOKIE, `${state}.${Buffer.from(returnTo).toString('base64url')}`, {
          https: deps.https,
          sameSite: 'Lax',
          maxAge: deps.signInTtl,
        }),
      );
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 303;
      ctx.redirect(`/auth?${query}`);
    },

    /**
     * The sign-in came back (RFC 6749 §4.1.2): check the state against the
     * cookie, redeem the code at the token endpoint with the verifier (§4.1.3),
     * verify the ID token (OIDC Core §3.1.3.7). Returns the user and the ID
     * token, or a sentence of why not.
     */
    async finishSignIn(
      ctx: Context,
    ): Promise<{ ok: true; userId: string; idToken: string; returnTo: string } | { ok: false; reason: string }> {
      const [state = '', encodedReturn = ''] = (readCookie(ctx, LOGIN_COOKIE) ?? '').split('.');
      ctx.append('Set-Cookie', cookie(LOGIN_COOKIE, '', { https: deps.https, sameSite: 'Lax', maxAge: 0 }));
      const presented = typeof ctx.query.state === 'string' ? ctx.query.state : '';
      if (!state || !sameText(state, presented)) {
        return { ok: false, reason: 'This sign-in did not start in this browser, or it took too long. Please sign in again.' };
      }
      if (typeof ctx.query.error === 'string') {
        return { ok: false, reason: 'The sign-in was cancelled or refused. Please sign in again.' };
      }
      const code = ctx.query.code;
      if (typeof code !== 'string' || !code) return { ok: false, reason: 'The sign-in came back without a code. Please sign in again.' };
      let response: Response;
      try {
        response = await fetch(`${deps.ownUrl()}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            // RFC 6749 §2.3.1: client_secret_basic, both parts form-encoded.
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(CONSOLE_CLIENT_ID)}:${encodeURIComponent(consoleClientSecret(deps.key))}`).toString('base64')}`,
          },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            code,
            redirect_uri: redirectUri,
            code_verifier: derive(deps.key, 'verifier', state),
          }),
          signal: AbortSignal.timeout(10_000),
        });
      } catch {
        // The token endpoint did not answer (a timeout, a restart): nothing was stored; the admin signs in again.
        return { ok: false, reason: 'The sign-in could not be completed just now. Please sign in again.' };
      }
      const tokens = (await response.json().catch(() => ({}))) as { id_token?: unknown };
      if (!response.ok || typeof tokens.id_token !== 'string') {
        return { ok: false, reason: 'The sign-in could not be completed (the code was not accepted). Please sign in again.' };
      }
      try {
        const { payload } = await jwtVerify(tokens.id_token, keyResolver(), {
          issuer: deps.issuer,
          audience: CONSOLE_CLIENT_ID,
          algorithms: ['RS256'],
          requiredClaims: ['sub', 'nonce'],
        });
        if (payload.nonce !== derive(deps.key, 'nonce', state)) throw new Error('nonce');
        const returnTo = safeReturnPath(Buffer.from(encodedReturn, 'base64url').toString('utf8'));
        return { ok: true, userId: String(payload.sub), idToken: tokens.id_token, returnTo };
      } catch {
        return { ok: false, reason: 'The sign-in could not be completed (the ID token did not verify). Please sign in again.' };
      }
    },

    /**
     * The ID token as end_session's id_token_hint (the sign-out link offered to
     * a signed-in user the console refuses), while a published key can
     * still verify it: after an emergency revocation of the key that signed it,
     * oidc-provider refuses the hint (400), so the sign-out names the client alone
     * (OIDC RP-Initiated Logout 1.0 §2: client_id with post_logout_redirect_uri).
     */
    endSessionHint(idToken: string): string | undefined {
      try {
        const { kid } = decodeProtectedHeader(idToken);
        return deps.currentKeys().keys.some((key) => key.kid === kid) ? idToken : undefined;
      } catch {
        return undefined;
      }
    },

    /** The user who just signed in, and whether their roles let them into the console. */
    async entrant(userId: string): Promise<{ user: User | null; allowed: boolean }> {
      const user = await deps.users.findUserById(userId);
      if (!user || user.disabled) return { user, allowed: false };
      return { user, allowed: mayEnterConsole(await adminScopesOf(deps.roles, user.id, deps.adminResource)) };
    },

    /** The admin of this request's console session, or undefined (no session, idle, or the user no longer an active admin). */
    async adminOf(ctx: Context): Promise<ConsoleAdmin | undefined> {
      const token = readCookie(ctx, SESSION_COOKIE);
      if (!token) return undefined;
      const session = await deps.sessions.use(token);
      if (!session) return undefined;
      const user = await deps.users.findUserById(session.userId);
      if (!user || user.disabled) return undefined;
      // Read at every request: a role taken away counts at once, as for the admin API.
      const scopes = await adminScopesOf(deps.roles, user.id, deps.adminResource);
      if (!mayEnterConsole(scopes)) return undefined;
      return {
        user,
        session,
        caller: { actor: `user:${user.id}`, scopes },
        audit: { actor: `user:${user.id}`, requestId: String(ctx.state.requestId ?? ''), clientIp: ctx.ip },
        can: (scope) => scopeAllows(scopes, scope),
      };
    },
  };
}

export type ConsoleAuth = ReturnType<typeof createConsoleAuth>;

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
