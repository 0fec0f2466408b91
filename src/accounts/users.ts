import { recordEvent, SYSTEM, type AuditContext } from '../audit/events.js';
import { isStorableText } from '../http/storable-text.js';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { isUniqueViolation, isUuid, splitPage } from '../db/prisma.js';
import { AppError } from '../http/errors.js';
import { revokeByAccount } from '../oidc/prisma-adapter.js';
import type { PasswordHasher } from './passwords.js';

export interface User {
  readonly id: string;
  readonly email: string;
  readonly name: string | null;
  readonly roles: string[];
  readonly emailVerified: boolean;
  readonly disabled: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
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

/** NIST SP 800-63B §5.1.1.2: length over composition rules. */
export function passwordProblem(password: string, email: string, minLength: number): string | undefined {
  if ([...password].length < minLength) return `password must be at least ${minLength} characters`;
  if (normalizeEmail(password) === normalizeEmail(email)) return 'password must not be the email address';
  return undefined;
}

const publicFields = {
  id: true, email: true, name: true, roles: true, emailVerified: true, disabled: true, createdAt: true, updatedAt: true,
} as const;

function assertEmail(email: string): void {
  if (!/^[^\s@]+@[^\s@]+$/.test(email.trim())) throw new AppError(400, 'invalid_email', 'email must be an email address');
}

const emailTaken = () => new AppError(409, 'email_taken', 'a user with this email already exists');
const notFound = (id: string) => new AppError(404, 'not_found', `no user ${id}`);

export function createUserService(prisma: PrismaClient, passwords: PasswordHasher, policy: { minPasswordLength: number } = { minPasswordLength: 12 }) {
  /** Ends every session, grant and token of a user. */
  const endSessions = (db: Prisma.TransactionClient, id: string) => revokeByAccount(db, id);

  const service = {
    async createUser(input: NewUser, audit: AuditContext = SYSTEM): Promise<User> {
      assertEmail(input.email);
      const problem = passwordProblem(input.password, input.email, policy.minPasswordLength);
      if (problem) throw new AppError(400, 'invalid_password', problem);
      const passwordHash = await passwords.hash(input.password);
      try {
        return await prisma.$transaction(async (tx) => {
          const user = await tx.user.create({
            data: {
              email: normalizeEmail(input.email),
              passwordHash,
              name: input.name ?? null,
              roles: input.roles ?? [],
              emailVerified: input.emailVerified ?? false,
              disabled: input.disabled ?? false,
            },
            select: publicFields,
          });
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
      const existing = await prisma.user.findUnique({ where: { email: normalizeEmail(email) }, select: publicFields });
      if (!existing) {
        return prisma.user.create({
          data: { email: normalizeEmail(email), passwordHash, roles: ['admin'], emailVerified: true },
          select: publicFields,
        });
      }
      const roles = existing.roles.includes('admin') ? existing.roles : [...existing.roles, 'admin'];
      return prisma.user.update({ where: { id: existing.id }, data: { passwordHash, roles, disabled: false }, select: publicFields });
    },

    findUserById(id: string): Promise<User | null> {
      if (!isUuid(id)) return Promise.resolve(null);
      return prisma.user.findUnique({ where: { id }, select: publicFields });
    },

    /** Page of users ordered by id; `after` is the last id of the previous page. */
    async listUsers(filter: { email?: string; limit: number; after?: string }): Promise<{ users: User[]; nextCursor: string | null }> {
      if (filter.after !== undefined && !isUuid(filter.after)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
      if (filter.email !== undefined && !isStorableText(filter.email)) return { users: [], nextCursor: null };
      const rows = await prisma.user.findMany({
        where: {
          ...(filter.email ? { email: normalizeEmail(filter.email) } : {}),
          ...(filter.after ? { id: { gt: filter.after } } : {}),
        },
        orderBy: { id: 'asc' },
        take: filter.limit + 1,
        select: publicFields,
      });
      const { page, nextCursor } = splitPage(rows, filter.limit, (user) => user.id);
      return { users: page, nextCursor };
    },

    async updateUser(id: string, changes: UserChanges, audit: AuditContext = SYSTEM): Promise<User> {
      if (!isUuid(id)) throw notFound(id);
      if (changes.email !== undefined) assertEmail(changes.email);
      const current = await prisma.user.findUnique({ where: { id }, select: publicFields });
      if (!current) throw notFound(id);
      if (changes.password !== undefined) {
        const problem = passwordProblem(changes.password, changes.email ?? current.email, policy.minPasswordLength);
        if (problem) throw new AppError(400, 'invalid_password', problem);
      }
      const passwordHash = changes.password === undefined ? undefined : await passwords.hash(changes.password);
      try {
        return await prisma.$transaction(async (tx) => {
          const user = await tx.user.update({
            where: { id },
            data: {
              ...(changes.email !== undefined ? { email: normalizeEmail(changes.email) } : {}),
              ...(passwordHash ? { passwordHash } : {}),
              ...(changes.name !== undefined ? { name: changes.name } : {}),
              ...(changes.roles !== undefined ? { roles: changes.roles } : {}),
              ...(changes.emailVerified !== undefined ? { emailVerified: changes.emailVerified } : {}),
              ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
            },
            select: publicFields,
          });
          const fields = Object.keys(changes).filter((field) => field !== 'password');
          await recordEvent(tx, audit, {
            type: 'user.updated',
            subject: id,
            details: { fields: changes.password === undefined ? fields : [...fields, 'password'] },
          });
          if (changes.disabled === true && !current.disabled) {
            await endSessions(tx, id);
            await recordEvent(tx, audit, { type: 'user.disabled', subject: id });
          }
          return user;
        });
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
      await prisma.$transaction(async (tx) => {
        const deleted = await tx.user.deleteMany({ where: { id } });
        if (deleted.count === 0) throw notFound(id);
        await endSessions(tx, id);
        await recordEvent(tx, audit, { type: 'user.deleted', subject: id });
      });
    },

    /** Ends the user's sessions, grants and tokens: every app must sign them in again. */
    async revokeUserSessions(id: string, audit: AuditContext = SYSTEM): Promise<number> {
      if (!isUuid(id) || !(await prisma.user.findUnique({ where: { id }, select: { id: true } }))) throw notFound(id);
      return prisma.$transaction(async (tx) => {
        const removed = await endSessions(tx, id);
        await recordEvent(tx, audit, { type: 'user.sessions_revoked', subject: id, details: { removed } });
        return removed;
      });
    },

    /**
     * The user for this email and password, or null. Unknown emails, wrong
     * passwords and disabled accounts are indistinguishable to the caller, and
     * unknown emails still pay for one argon2 verification.
     */
    async authenticate(email: string, password: string): Promise<User | null> {
      // A NUL byte or lone surrogate matches no stored email (and Postgres would refuse the query).
      const row = isStorableText(email) ? await prisma.user.findUnique({ where: { email: normalizeEmail(email) } }) : null;
      if (!row) {
        await passwords.verifyDummy(password);
        return null;
      }
      const valid = await passwords.verify(row.passwordHash, password);
      if (!valid || row.disabled) return null;
      const { passwordHash: _hash, ...user } = row;
      return user;
    },
  };
  return service;
}

export type UserService = ReturnType<typeof createUserService>;
