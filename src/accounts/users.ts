import { recordEvent, SYSTEM, type AuditContext } from '../audit/events.js';
import { isStorableText } from '../http/storable-text.js';
import type { PrismaClient } from '../db/prisma.js';
import { isUniqueViolation, isUuid, plainQuery, type Prisma, splitPage } from '../db/prisma.js';
import { endSessionsQueueingLogouts } from '../oidc/backchannel-logout-store.js';
import { AppError } from '../http/errors.js';
import type { PasswordHasher } from './passwords.js';
import { createPasswordPolicy } from './password-policy.js';
import { ADMIN_ROLE, replaceUserRoles, resolveRoleIds } from './roles.js';
import { hasConfirmedFactorSql } from '../mfa/confirmed-factor.js';
import { USER_COLUMNS, type UserColumns, userFromColumns } from './user-columns.js';

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly roles: string[];
  readonly emailVerified: boolean;
  readonly disabled: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /**
   * Whether a role of the user's has `require_mfa`: read with the user by the
   * lookups of one user (sign-in, tokens), so a sign-in's second-factor
   * decision needs no query of its own. Absent where users are listed.
   */
  readonly rolesRequireMfa?: boolean;
  /**
   * Whether the user has a confirmed second factor: read with the user by the
   * lookups of one user (sign-in, code grant, pages), so a sign-in without
   * one needs no query of the factors. Absent where users are listed.
   */
  readonly hasSecondFactor?: boolean;
}

export interface NewUser {
  email: string;
  password: string;
  name?: string | null;
  roles?: string[];
  emailVerified?: boolean;
  disabled?: boolean;
}

export interface UserChanges {
  email?: string;
  password?: string;
  name?: string | null;
  roles?: string[];
  emailVerified?: boolean;
  disabled?: boolean;
}

/** Emails are unique case-insensitively: stored trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const publicFields = {
  id: true,
  email: true,
  name: true,
  emailVerified: true,
  disabled: true,
  createdAt: true,
  updatedAt: true,
  roles: { select: { role: { select: { name: true } } } },
} as const;

type UserRow = Prisma.UserGetPayload<{ select: typeof publicFields }>;

/**
 * One user by id or email, with its role names and password hash, in one
 * round trip (Prisma's nested select of the roles sends three): sign-in and
 * the code grant look a user up this way; a refresh reads the same columns,
 * without the hash, with its token (src/oidc/prisma-adapter.ts).
 */
async function findOneUser(
  db: PrismaClient,
  by: { readonly id: string } | { readonly email: string },
): Promise<(User & { readonly passwordHash: string }) | null> {
  // Through pg (plainQuery): sign-in and every code grant send it.
  // The factors' table belongs to src/mfa/: whether a confirmed one exists, by its rule.
  const rows = await plainQuery(db)<UserColumns & { password_hash: string; has_second_factor: boolean }>(
    `SELECT ${USER_COLUMNS}, u.password_hash, ${hasConfirmedFactorSql('u.id')} AS has_second_factor
      FROM users u
     WHERE ${'id' in by ? 'u.id = $1::uuid' : 'u.email = $1'}`,
    ['id' in by ? by.id : by.email],
  );
  const row = rows[0];
  return row ? { ...userFromColumns(row), hasSecondFactor: row.has_second_factor, passwordHash: row.password_hash } : null;
}

function withoutHash(row: (User & { readonly passwordHash: string }) | null): User | null {
  if (!row) return null;
  const { passwordHash: _hash, ...user } = row;
  return user;
}

/** Role names come from the user_roles join, sorted. */
function toUser(row: UserRow): User {
  return { ...row, roles: row.roles.map((item) => item.role.name).sort() };
}

function assertEmail(email: string): void {
  if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) throw new AppError(400, 'invalid_email', 'email must be an email address');
}

/** Why a change must end the user's sessions: a new password or email, or disabling. */
function sessionEndingChanges(current: User, changes: UserChanges): string[] {
  const reasons: string[] = [];
  if (changes.password !== undefined) reasons.push('password_changed');
  if (changes.email !== undefined && normalizeEmail(changes.email) !== current.email) reasons.push('email_changed');
  if (changes.disabled === true && !current.disabled) reasons.push('disabled');
  return reasons;
}

/** Text matched as itself by LIKE/ILIKE: Prisma's `contains` leaves `%`, `_` and `\` as wildcards and escapes. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, '\\$&');

const emailTaken = () => new AppError(409, 'email_taken', 'a user with this email already exists');
const notFound = (id: string) => new AppError(404, 'not_found', `no user ${id}`);

export interface UserServiceHooks {
  /** After a change that ended a user's sessions: deliver the back-channel logout tokens it queued now (oidc/backchannel-logout.ts). */
  readonly sessionsEnded?: () => void;
}

export function createUserService(
  prisma: PrismaClient,
  passwords: PasswordHasher,
  policy: { minPasswordLength: number; minPasswordScore?: number } = { minPasswordLength: 12 },
  hooks: UserServiceHooks = {},
) {
  const passwordPolicy = createPasswordPolicy({ minLength: policy.minPasswordLength, minScore: policy.minPasswordScore ?? 3 });
  /** Throws a 400 saying why, when the password may not be set for this user. */
  const assertPasswordAllowed = async (password: string, owner: { email: string; name?: string | null }) => {
    const problem = await passwordPolicy.problem(password, owner);
    if (problem) throw new AppError(400, 'invalid_password', problem);
  };

  /**
   * Ends every session, grant and token of a user (they live in oidc_payloads
   * with its accountId), but the browser session `keepSessionUid`, and queues
   * back-channel logout tokens for their apps, in the caller's transaction;
   * returns how many rows went.
   */
  const endSessions = async (db: Prisma.TransactionClient, id: string, keepSessionUid?: string) =>
    (await endSessionsQueueingLogouts(db, id, keepSessionUid)).removed;
  /** After the transaction (a rolled-back one queued nothing, and the delivery finds nothing). */
  const deliverQueued = () => hooks.sessionsEnded?.();

  const service = {
    /** Throws a 400 saying why, when this password may not be set for this user (NIST SP 800-63B §5.1.1.2). */
    assertPasswordAllowed,

    /** The user with this email (any letter case), or null. */
    async findUserByEmail(email: string): Promise<User | null> {
      // A NUL byte or lone surrogate matches no stored email (and Postgres would refuse the query).
      if (!isStorableText(email)) return null;
      return withoutHash(await findOneUser(prisma, { email: normalizeEmail(email) }));
    },

    async createUser(input: NewUser, audit: AuditContext = SYSTEM): Promise<User> {
      assertEmail(input.email);
      await assertPasswordAllowed(input.password, { email: input.email, name: input.name });
      const passwordHash = await passwords.hash(input.password);
      try {
        return await prisma.$transaction(async (tx) => {
          const roleIds = await resolveRoleIds(tx, input.roles ?? []);
          const user = toUser(
            await tx.user.create({
              data: {
                email: normalizeEmail(input.email),
                passwordHash,
                name: input.name ?? null,
                roles: { createMany: { data: roleIds.map((roleId) => ({ roleId })) } },
                emailVerified: input.emailVerified ?? false,
                disabled: input.disabled ?? false,
              },
              select: publicFields,
            }),
          );
          await recordEvent(tx, audit, { type: 'user.created', subject: user.id, details: { roles: user.roles } });
          return user;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw emailTaken();
        throw error;
      }
    },

    /** Creates the user, or resets password and adds the `admin` role when the email exists. */
    async ensureAdminUser(email: string, password: string): Promise<User> {
      const passwordHash = await passwords.hash(password);
      return prisma.$transaction(async (tx) => {
        const [adminRoleId] = await resolveRoleIds(tx, [ADMIN_ROLE]);
        const roleId = adminRoleId as string;
        const existing = await tx.user.findUnique({ where: { email: normalizeEmail(email) }, select: { id: true } });
        if (!existing) {
          return toUser(
            await tx.user.create({
              data: { email: normalizeEmail(email), passwordHash, emailVerified: true, roles: { create: { roleId } } },
              select: publicFields,
            }),
          );
        }
        await tx.userRole.upsert({
          where: { userId_roleId: { userId: existing.id, roleId } },
          create: { userId: existing.id, roleId },
          update: {},
        });
        return toUser(await tx.user.update({ where: { id: existing.id }, data: { passwordHash, disabled: false }, select: publicFields }));
      });
    },

    async findUserById(id: string): Promise<User | null> {
      if (!isUuid(id)) return null;
      return withoutHash(await findOneUser(prisma, { id }));
    },

    /**
     * Page of users ordered by id; `after` is the last id of the previous page.
     * `search` matches part of the email or the name in any letter case
     * (ILIKE, served by trigram indexes); `%` and `_` in it are plain characters.
     */
    async listUsers(filter: { email?: string; search?: string; limit: number; after?: string }): Promise<{
      users: User[];
      nextCursor: string | null;
    }> {
      if (filter.after !== undefined && !isUuid(filter.after)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
      if (filter.email !== undefined && !isStorableText(filter.email)) return { users: [], nextCursor: null };
      if (filter.search !== undefined && !isStorableText(filter.search)) return { users: [], nextCursor: null };
      const rows = await prisma.user.findMany({
        where: {
          ...(filter.email ? { email: normalizeEmail(filter.email) } : {}),
          ...(filter.search
            ? {
                OR: [
                  { email: { contains: likeLiteral(filter.search), mode: 'insensitive' as const } },
                  { name: { contains: likeLiteral(filter.search), mode: 'insensitive' as const } },
                ],
              }
            : {}),
          ...(filter.after ? { id: { gt: filter.after } } : {}),
        },
        orderBy: { id: 'asc' },
        take: filter.limit + 1,
        select: publicFields,
      });
      const { page, nextCursor } = splitPage(rows, filter.limit, (user) => user.id);
      return { users: page.map(toUser), nextCursor };
    },

    /**
     * Changes a user. A new password or email, or disabling, ends the user's
     * sessions and grants; `keepSessionUid` spares the browser session that
     * made the change itself (the account page).
     */
    async updateUser(
      id: string,
      changes: UserChanges,
      audit: AuditContext = SYSTEM,
      options: { keepSessionUid?: string } = {},
    ): Promise<User> {
      if (!isUuid(id)) throw notFound(id);
      if (changes.email !== undefined) assertEmail(changes.email);
      const currentRow = await prisma.user.findUnique({ where: { id }, select: publicFields });
      if (!currentRow) throw notFound(id);
      const current = toUser(currentRow);
      if (changes.password !== undefined) {
        await assertPasswordAllowed(changes.password, {
          email: changes.email ?? current.email,
          name: changes.name === undefined ? current.name : changes.name,
        });
      }
      const passwordHash = changes.password === undefined ? undefined : await passwords.hash(changes.password);
      try {
        return await prisma
          .$transaction(async (tx) => {
            if (changes.roles !== undefined) {
              await replaceUserRoles(tx, id, changes.roles);
              await recordEvent(tx, audit, {
                type: 'user.roles_changed',
                subject: id,
                details: { before: current.roles, after: [...new Set(changes.roles)].sort() },
              });
            }
            const user = toUser(
              await tx.user.update({
                where: { id },
                data: {
                  ...(changes.email !== undefined ? { email: normalizeEmail(changes.email) } : {}),
                  ...(passwordHash ? { passwordHash } : {}),
                  ...(changes.name !== undefined ? { name: changes.name } : {}),
                  ...(changes.emailVerified !== undefined ? { emailVerified: changes.emailVerified } : {}),
                  // A new address is not verified until its owner confirms it (or an admin says so).
                  ...(changes.emailVerified === undefined && changes.email !== undefined && normalizeEmail(changes.email) !== current.email
                    ? { emailVerified: false }
                    : {}),
                  ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
                },
                select: publicFields,
              }),
            );
            const fields = Object.keys(changes).filter((field) => field !== 'password');
            await recordEvent(tx, audit, {
              type: 'user.updated',
              subject: id,
              details: { fields: changes.password === undefined ? fields : [...fields, 'password'] },
            });
            // What the old password (or address) started ends with it: every
            // browser session, grant and refresh token, at every instance.
            const reasons = sessionEndingChanges(current, changes);
            if (reasons.length > 0) {
              const removed = await endSessions(tx, id, options.keepSessionUid);
              await recordEvent(tx, audit, { type: 'user.sessions_revoked', subject: id, details: { removed, reasons } });
            }
            if (changes.disabled === true && !current.disabled) {
              await recordEvent(tx, audit, { type: 'user.disabled', subject: id });
            }
            return user;
          })
          .finally(deliverQueued);
      } catch (error) {
        if (isUniqueViolation(error)) throw emailTaken();
        throw error;
      }
    },

    setUserDisabled(id: string, disabled: boolean, audit: AuditContext = SYSTEM): Promise<User> {
      return service.updateUser(id, { disabled }, audit);
    },

    /** Deletes the user and ends everything it was signed in to. */
    async deleteUser(id: string, audit: AuditContext = SYSTEM): Promise<void> {
      if (!isUuid(id)) throw notFound(id);
      await prisma
        .$transaction(async (tx) => {
          const deleted = await tx.user.deleteMany({ where: { id } });
          if (deleted.count === 0) throw notFound(id);
          await endSessions(tx, id);
          await recordEvent(tx, audit, { type: 'user.deleted', subject: id });
        })
        .finally(deliverQueued);
    },

    /** Ends the user's sessions, grants and tokens: every app must sign them in again. */
    async revokeUserSessions(id: string, audit: AuditContext = SYSTEM): Promise<number> {
      if (!isUuid(id) || !(await prisma.user.findUnique({ where: { id }, select: { id: true } }))) throw notFound(id);
      return prisma
        .$transaction(async (tx) => {
          const removed = await endSessions(tx, id);
          await recordEvent(tx, audit, { type: 'user.sessions_revoked', subject: id, details: { removed } });
          return removed;
        })
        .finally(deliverQueued);
    },

    /**
     * The user for this email and password, or null. Unknown emails, wrong
     * passwords and disabled accounts are indistinguishable to the caller, and
     * unknown emails still pay for one argon2 verification.
     */
    async authenticate(email: string, password: string): Promise<User | null> {
      // A NUL byte or lone surrogate matches no stored email (and Postgres would refuse the query).
      const row = isStorableText(email) ? await findOneUser(prisma, { email: normalizeEmail(email) }) : null;
      if (!row) {
        await passwords.verifyDummy(password);
        return null;
      }
      const valid = await passwords.verify(row.passwordHash, password);
      if (!valid || row.disabled) return null;
      return withoutHash(row);
    },
  };
  return service;
}

export type UserService = ReturnType<typeof createUserService>;
