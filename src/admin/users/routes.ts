import type { AccountRecovery } from '../../accounts/account-recovery.js';
import type { User, UserService } from '../../accounts/users.js';
import type { AuditContext } from '../../audit/events.js';
import { AppError } from '../../http/errors.js';
import type { AdminCaller } from '../admin-auth.js';
import { defineRoute, notFound, requireFullAdmin, uuidParams, type AdminRoute } from '../admin-route.js';
import { decodeCursor, page } from '../pagination.js';
import { presentCreatedUser, presentSentLink, presentUser } from './presenter.js';
import {
  createdUserView,
  createUserBody,
  listUsersQuery,
  resetLinkView,
  updateUserBody,
  userPage,
  userView,
  verificationLinkView,
} from './schema.js';

export function userRoutes(
  users: UserService,
  recovery?: Pick<AccountRecovery, 'available' | 'sendPasswordResetLink' | 'sendVerificationLink'>,
): AdminRoute[] {
  // Without `recovery` these routes run in `gatehouse --local`, which sends no email; the server may well.
  const noEmail = (what: string) =>
    new AppError(
      400,
      'email_unavailable',
      recovery
        ? `no ${what} was sent: email delivery is not configured on this server (GATEHOUSE_SMTP_URL)`
        : `no ${what} was sent: gatehouse --local sends no email; run the command against the server (GATEHOUSE_URL)`,
    );
  /**
   * The verification email of a user just created: whether it went out, and
   * if not why (the user exists either way, so it is part of the 201, not an error).
   */
  const sendNewUserVerification = async (user: User, audit: AuditContext) => {
    if (!recovery) throw noEmail('verification email');
    try {
      await recovery.sendVerificationLink(user, { audit, details: { new_user: true } });
      return { sent: true } as const;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      return { sent: false, error: error.code, description: error.description } as const;
    }
  };
  /** Admins, and the admin role itself, are only touched with `admin`: a finer scope is not a step to all. Returns the user. */
  const guardAdminUser = async (id: string, caller: AdminCaller, roles?: string[]): Promise<User> => {
    const user = await users.findUserById(id);
    if (!user) throw notFound('user', id);
    if (user.roles.includes('admin') || roles?.includes('admin')) requireFullAdmin(caller, 'changing an admin user or the admin role');
    return user;
  };
  return [
    defineRoute({
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create a user',
      scope: 'admin:users:write',
      status: 201,
      body: createUserBody,
      response: createdUserView,
      handle: async ({ body, audit, caller }) => {
        if (body.roles?.includes('admin')) requireFullAdmin(caller, 'the admin role');
        const { send_verification_email: sendVerification, email_verified: emailVerified, ...fields } = body;
        // Known before anything is made: no user is left created for an email that could never go out.
        if (sendVerification && !recovery?.available) {
          throw new AppError(400, 'email_unavailable', 'send_verification_email needs email delivery (GATEHOUSE_SMTP_URL)');
        }
        const user = await users.createUser({ ...fields, emailVerified }, audit);
        return presentCreatedUser(user, sendVerification ? await sendNewUserVerification(user, audit) : undefined);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users',
      operationId: 'listUsers',
      summary: 'List users (email: exactly; search: part of the email or name, any case)',
      scope: 'admin:users:read',
      status: 200,
      query: listUsersQuery,
      response: userPage,
      handle: async ({ query }) => {
        const { users: found, nextCursor } = await users.listUsers({
          email: query.email,
          search: query.search || undefined,
          limit: query.limit,
          after: decodeCursor(query.cursor),
        });
        return page(found.map(presentUser), nextCursor);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/:id',
      operationId: 'getUser',
      params: uuidParams,
      summary: 'Show a user',
      scope: 'admin:users:read',
      status: 200,
      response: userView,
      handle: async ({ params }) => {
        const user = await users.findUserById(params.id);
        if (!user) throw notFound('user', params.id);
        return presentUser(user);
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/users/:id',
      operationId: 'updateUser',
      params: uuidParams,
      summary: 'Change a user (disabling ends their sessions)',
      scope: 'admin:users:write',
      status: 200,
      body: updateUserBody,
      response: userView,
      handle: async ({ params, body, audit, caller }) => {
        await guardAdminUser(params.id, caller, body.roles);
        const { email_verified: emailVerified, ...rest } = body;
        return presentUser(
          await users.updateUser(params.id, { ...rest, ...(emailVerified === undefined ? {} : { emailVerified }) }, audit),
        );
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/:id',
      operationId: 'deleteUser',
      params: uuidParams,
      summary: 'Delete a user and end their sessions',
      scope: 'admin:users:write',
      status: 204,
      handle: async ({ params, audit, caller }) => {
        await guardAdminUser(params.id, caller);
        await users.deleteUser(params.id, audit);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/users/:id/password-reset',
      operationId: 'sendUserPasswordReset',
      params: uuidParams,
      summary:
        'Email a user a password reset link. Unlike the public forgot-password page it says when nothing was sent: 409 for a disabled account, 429 (Retry-After) when the address had its links for the hour, 400 without email delivery, 503 when the mail server fails',
      scope: 'admin:users:write',
      status: 200,
      response: resetLinkView,
      errors: {
        409: 'The account is disabled: no link was sent',
        429: 'The address was sent as many reset links as it may have this hour: no link was sent; Retry-After says when to try again',
        503: 'The mail server could not be reached or refused the email: no link was sent',
      },
      handle: async ({ params, audit, caller }) => {
        const user = await guardAdminUser(params.id, caller);
        if (!recovery?.available) throw noEmail('reset link');
        return presentSentLink(user, await recovery.sendPasswordResetLink(user, { audit }));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/users/:id/verification-email',
      operationId: 'sendUserVerificationEmail',
      params: uuidParams,
      summary:
        'Email a user a link that confirms their address, saying when nothing was sent: 409 when the address is already verified or the account disabled, 429 (Retry-After) when the address had its verification emails for the hour, 400 without email delivery, 503 when the mail server fails',
      scope: 'admin:users:write',
      status: 200,
      response: verificationLinkView,
      errors: {
        409: 'The address is already verified (email_already_verified) or the account is disabled (user_disabled): no email was sent',
        429: 'The address was sent as many verification emails as it may have this hour: none was sent; Retry-After says when to try again',
        503: 'The mail server could not be reached or refused the email: none was sent, and the link was not kept',
      },
      handle: async ({ params, audit, caller }) => {
        const user = await guardAdminUser(params.id, caller);
        if (!recovery?.available) throw noEmail('verification email');
        return presentSentLink(user, await recovery.sendVerificationLink(user, { audit }));
      },
    }),
    defineRoute({
      method: 'post',
      path: '/users/:id/revoke-sessions',
      operationId: 'revokeUserSessions',
      params: uuidParams,
      summary: 'End every session, grant and token of a user',
      scope: 'admin:users:write',
      status: 204,
      handle: async ({ params, audit, caller }) => {
        await guardAdminUser(params.id, caller);
        await users.revokeUserSessions(params.id, audit);
      },
    }),
  ];
}
