import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { AccountRecovery } from '../accounts/account-recovery.js';
import type { SessionActivityStore } from '../account/session-activity.js';
import { describeDevice } from '../account/account-routes.js';
import type { factorsView } from '../admin/users/mfa-routes.js';
import type { signInStateView } from '../admin/users/sign-in-routes.js';
import type { rolePage } from '../admin/roles/schema.js';
import type { createdUserView, userPage, userView } from '../admin/users/schema.js';
import { describeError } from '../http/error-renderer.js';
import { AppError } from '../http/errors.js';
import { showDate } from './console-format.js';
import type { ConsoleOperations } from './console-operations.js';
import { field, fields, sentence, type ConsoleArea, type ConsolePage } from './console-routes.js';

type User = z.infer<typeof userView>;
type CreatedUserExtras = Pick<z.infer<typeof createdUserView>, 'verification_email_sent' | 'verification_email_error'>;

export interface UserPagesDependencies {
  readonly operations: ConsoleOperations;
  readonly sessions: SessionActivityStore;
  readonly recovery: Pick<AccountRecovery, 'available' | 'sendPasswordResetLink'>;
}

const FACTOR_NAMES: Record<string, string> = {
  totp: 'Authenticator app code',
  recovery_code: 'Recovery code',
  passkey: 'Passkey',
  code: 'Code',
};

const LABELS: Record<string, string> = { email: 'Email', password: 'Password', name: 'Name', roles: 'Roles' };

/** Failures the user's page shows as a sentence (others are the error page): bad input, conflicts, limits, a mail server failing. */
const saysWhy = (failure: { status: number; code: string }) =>
  failure.status === 400 || failure.status === 409 || failure.status === 429 || failure.code === 'email_not_delivered';

/** /console/users: list and search, create, edit, disable, delete, reset link, verification email, sessions and second factors. */
export function userPages(deps: UserPagesDependencies): ConsoleArea {
  const { operations } = deps;
  const idOf = (page: ConsolePage) => String(page.ctx.params.id);
  const load = (page: ConsolePage) => operations.run<User>('getUser', page.admin, { params: { id: idOf(page) } });
  const roleNames = async (page: ConsolePage) =>
    (await operations.run<z.infer<typeof rolePage>>('listRoles', page.admin, { query: { limit: '100' } })).data.map((role) => role.name);

  /**
   * The actions that are not admin API operations (a reset link, ending one
   * session) follow the same rule as updateUser: users:write, and `admin`
   * itself when the user is an admin.
   */
  const mayChange = (page: ConsolePage, user: User) => {
    if (!operations.allows(page.admin, 'updateUser')) {
      throw new AppError(
        403,
        'insufficient_scope',
        'this needs the admin:users:write permission (or admin), which your roles do not grant',
      );
    }
    if (user.roles.includes('admin') && !page.admin.caller.scopes.has('admin')) {
      throw new AppError(403, 'insufficient_scope', 'changing an admin user needs the admin permission');
    }
  };

  const renderList = async (page: ConsolePage, message: Record<string, unknown> = {}) => {
    const search = typeof page.ctx.query.search === 'string' ? page.ctx.query.search : '';
    const cursor = typeof page.ctx.query.cursor === 'string' ? page.ctx.query.cursor : undefined;
    const found = await operations.run<z.infer<typeof userPage>>('listUsers', page.admin, {
      query: { limit: '25', ...(search ? { search } : {}), ...(cursor ? { cursor } : {}) },
    });
    page.render('users', {
      title: 'Users',
      area: '/console/users',
      search,
      canWrite: operations.allows(page.admin, 'createUser'),
      users: found.data.map((user) => ({
        ...user,
        href: `/console/users/${user.id}`,
        roleList: user.roles.join(', '),
        created: showDate(user.created_at),
      })),
      next: found.next_cursor
        ? `/console/users?${new URLSearchParams({ ...(search ? { search } : {}), cursor: found.next_cursor })}`
        : undefined,
      ...message,
    });
  };

  const renderNew = async (page: ConsolePage, values: Record<string, unknown> = {}, error?: string, status = 200) => {
    const chosen = new Set(fields(page.form, 'roles'));
    page.render(
      'user-new',
      {
        title: 'New user',
        area: '/console/users',
        roles: (await roleNames(page)).map((name) => ({ name, checked: chosen.has(name) })),
        canEmail: deps.recovery.available,
        ...values,
        error,
      },
      status,
    );
  };

  const renderUser = async (page: ConsolePage, user: User, message: Record<string, unknown> = {}, status = 200) => {
    const mfa = await operations.run<z.infer<typeof factorsView>>('listUserMfaFactors', page.admin, { params: { id: user.id } });
    const sessions = await deps.sessions.listSessions(user.id);
    const signIn = await operations.run<z.infer<typeof signInStateView>>('getUserSignIn', page.admin, { params: { id: user.id } });
    page.render(
      'user',
      {
        title: user.name ?? user.email,
        area: '/console/users',
        user,
        href: `/console/users/${user.id}`,
        canWrite: operations.allows(page.admin, 'updateUser'),
        canEmail: deps.recovery.available,
        roles: (await roleNames(page)).map((name) => ({ name, checked: user.roles.includes(name) })),
        roleList: user.roles.join(', ') || 'none',
        created: showDate(user.created_at),
        sessions: sessions.map((session) => ({
          uid: session.uid,
          device: describeDevice(session.userAgent),
          ip: session.ip ?? 'unknown',
          lastSeen: showDate(session.lastSeen ?? session.signedInAt),
        })),
        hasSessions: sessions.length > 0,
        factors: mfa.factors.map((factor) => ({
          ...factor,
          created: showDate(factor.created_at),
          lastUsed: showDate(factor.last_used_at),
        })),
        hasFactors: mfa.factors.length > 0,
        recoveryCodesLeft: mfa.recovery_codes_left,
        failedSignIns: signIn.failed_attempts,
        delayedUntil: signIn.delayed_until ? showDate(signIn.delayed_until) : undefined,
        passwordThrottled: signIn.failed_attempts > 0 || signIn.delayed_until !== null,
        failedCodes: signIn.second_factor_failed_attempts,
        codesDelayedUntil: signIn.second_factor_delayed_until ? showDate(signIn.second_factor_delayed_until) : undefined,
        codesThrottled: signIn.second_factor_failed_attempts > 0 || signIn.second_factor_delayed_until !== null,
        throttled:
          signIn.failed_attempts > 0 ||
          signIn.delayed_until !== null ||
          signIn.second_factor_failed_attempts > 0 ||
          signIn.second_factor_delayed_until !== null,
        secondFactorFailures: signIn.second_factor_failures.map((failure) => ({
          when: showDate(failure.occurred_at),
          factor: FACTOR_NAMES[failure.factor],
          outcome: failure.outcome === 'throttled' ? 'refused (too many attempts)' : 'not accepted',
          ip: failure.client_ip ?? 'unknown',
        })),
        hasSecondFactorFailures: signIn.second_factor_failures.length > 0,
        ...message,
      },
      status,
    );
  };

  /** Sends a new user their reset link; what kept it from going out, as the end of a sentence, or undefined when it went. */
  const refusedLink = async (user: User, details: Record<string, unknown>, page: ConsolePage): Promise<string | undefined> => {
    try {
      await deps.recovery.sendPasswordResetLink(user, { audit: page.admin.audit, details });
      return undefined;
    } catch (error) {
      const failure = describeError(error);
      if (!saysWhy(failure)) throw error;
      return /[.!?]$/.test(failure.description) ? failure.description : `${failure.description}.`;
    }
  };

  /** Runs a change on the user's page: a notice when it worked, the sentence of what was wrong when it did not. */
  const change = async (page: ConsolePage, action: (user: User) => Promise<string>) => {
    const user = await load(page);
    try {
      const notice = await action(user);
      await renderUser(page, await load(page), { notice });
    } catch (error) {
      const failure = describeError(error);
      if (!saysWhy(failure)) throw error;
      for (const [name, value] of Object.entries(failure.headers)) page.ctx.set(name, value);
      await renderUser(page, user, { error: sentence(failure.description, LABELS) }, failure.status);
    }
  };

  return {
    get: {
      '/users': (page) => renderList(page),
      '/users/new': (page) => renderNew(page),
      '/users/:id': async (page) => renderUser(page, await load(page)),
      '/users/:id/delete': async (page) => {
        const user = await load(page);
        page.render('user-delete', { title: `Delete ${user.email}`, area: '/console/users', user, href: `/console/users/${user.id}` });
      },
    },
    post: {
      '/users': async (page) => {
        const values = { email: field(page.form, 'email').trim(), name: field(page.form, 'name').trim() };
        const typed = field(page.form, 'password');
        const sendReset = !typed && deps.recovery.available;
        const sendVerification = field(page.form, 'send_verification_email') === 'on';
        try {
          const user = await operations.run<User & CreatedUserExtras>('createUser', page.admin, {
            body: {
              email: values.email,
              // Without a password typed: a random one nobody knows, and a reset link so the user sets their own.
              password: typed || randomBytes(24).toString('base64url'),
              name: values.name || null,
              roles: fields(page.form, 'roles'),
              ...(sendVerification && !sendReset ? { send_verification_email: true } : {}),
            },
          });
          // The user exists either way; the notice says whether the link went out (an address's hourly limit may refuse it).
          const linkRefused = sendReset ? await refusedLink(user, { new_user: true }, page) : undefined;
          const verificationRefused = user.verification_email_error?.error_description;
          await renderUser(page, user, {
            notice: !sendReset
              ? verificationRefused
                ? `${user.email} was created, but ${verificationRefused}.`
                : `${user.email} was created${user.verification_email_sent ? ' and was sent a link to confirm the address' : ''}.`
              : linkRefused
                ? `${user.email} was created, but ${linkRefused}`
                : `${user.email} was created and was sent a link to choose a password.`,
          });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 400 && failure.status !== 409) throw error;
          await renderNew(page, values, sentence(failure.description, LABELS), failure.status);
        }
      },
      '/users/:id': (page) =>
        change(page, async (user) => {
          const roles = fields(page.form, 'roles');
          const name = field(page.form, 'name').trim();
          await operations.run('updateUser', page.admin, {
            params: { id: user.id },
            body: { name: name || null, email: field(page.form, 'email').trim(), roles },
          });
          return 'The changes were saved.';
        }),
      '/users/:id/disable': (page) =>
        change(page, async (user) => {
          await operations.run('updateUser', page.admin, { params: { id: user.id }, body: { disabled: true } });
          return `${user.email} is disabled and was signed out everywhere.`;
        }),
      '/users/:id/enable': (page) =>
        change(page, async (user) => {
          await operations.run('updateUser', page.admin, { params: { id: user.id }, body: { disabled: false } });
          return `${user.email} can sign in again.`;
        }),
      '/users/:id/password': (page) =>
        change(page, async (user) => {
          await operations.run('updateUser', page.admin, { params: { id: user.id }, body: { password: field(page.form, 'password') } });
          return `The password of ${user.email} was changed, and they were signed out everywhere.`;
        }),
      // The same operation as POST /admin/users/:id/password-reset: when no link went out, the page says why (not the public page's one answer).
      '/users/:id/reset-link': (page) =>
        change(page, async (user) => {
          const sent = await operations.run<{ email: string }>('sendUserPasswordReset', page.admin, { params: { id: user.id } });
          return `A password reset link was sent to ${sent.email}.`;
        }),
      // The same operation as POST /admin/users/:id/verification-email: when none went out, the page says why.
      '/users/:id/verification-email': (page) =>
        change(page, async (user) => {
          const sent = await operations.run<{ email: string }>('sendUserVerificationEmail', page.admin, { params: { id: user.id } });
          return `A link to confirm the address was sent to ${sent.email}.`;
        }),
      '/users/:id/sessions/end': (page) =>
        change(page, async (user) => {
          mayChange(page, user);
          // The same event as revokeUserSessions (actor: the admin), naming the one session ended, in its transaction.
          const ended = await deps.sessions.endSession(user.id, field(page.form, 'session'), page.admin.audit);
          if (!ended) throw new AppError(409, 'not_found', 'that session had already ended');
          return 'That session was signed out.';
        }),
      // The same operation as POST /admin/users/:id/unlock: admin:users:write, audited as user.unlocked.
      '/users/:id/unlock': (page) =>
        change(page, async (user) => {
          await operations.run('unlockUser', page.admin, { params: { id: user.id } });
          return `${user.email} can sign in again at once.`;
        }),
      '/users/:id/sessions/end-all': (page) =>
        change(page, async (user) => {
          await operations.run('revokeUserSessions', page.admin, { params: { id: user.id } });
          return `${user.email} was signed out everywhere.`;
        }),
      '/users/:id/mfa/reset': (page) =>
        change(page, async (user) => {
          await operations.run('resetUserMfa', page.admin, { params: { id: user.id } });
          return `The second factors of ${user.email} were removed; they will set one up again at their next sign-in if it is required.`;
        }),
      '/users/:id/mfa/remove': (page) =>
        change(page, async (user) => {
          await operations.run('removeUserMfaFactor', page.admin, { params: { id: user.id, factorId: field(page.form, 'factor') } });
          return 'The second factor was removed.';
        }),
      '/users/:id/delete': async (page) => {
        const user = await load(page);
        await operations.run('deleteUser', page.admin, { params: { id: user.id } });
        page.ctx.query = {};
        await renderList(page, { notice: `${user.email} was deleted.` });
      },
    },
  };
}
