import type { PrismaClient } from '../db/prisma.js';
import { Prisma } from '../db/prisma.js';
import { AppError } from '../http/errors.js';
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

/** Emails are unique case-insensitively: stored trimmed and lower-cased. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const publicFields = {
  id: true, email: true, name: true, roles: true, emailVerified: true, disabled: true, createdAt: true, updatedAt: true,
} as const;

export const MIN_PASSWORD_LENGTH = 12;

/** NIST SP 800-63B §5.1.1.2: length over composition rules. */
export function passwordProblem(password: string, email: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return `password must be at least ${MIN_PASSWORD_LENGTH} characters`;
  if (normalizeEmail(password) === normalizeEmail(email)) return 'password must not be the email address';
  return undefined;
}

export function createUserService(prisma: PrismaClient, passwords: PasswordHasher) {
  return {
    async createUser(input: NewUser): Promise<User> {
      const problem = passwordProblem(input.password, input.email);
      if (problem) throw new AppError(400, 'invalid_password', problem);
      if (!/^[^\s@]+@[^\s@]+$/.test(input.email.trim())) throw new AppError(400, 'invalid_email', 'email must be an email address');
      const passwordHash = await passwords.hash(input.password);
      try {
        return await prisma.user.create({
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
      } catch (error) {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw new AppError(409, 'email_taken', 'a user with this email already exists');
        }
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

    setUserDisabled(id: string, disabled: boolean): Promise<User> {
      return prisma.user.update({ where: { id }, data: { disabled }, select: publicFields });
    },

    /**
     * The user for this email and password, or null. Unknown emails, wrong
     * passwords and disabled accounts are indistinguishable to the caller, and
     * unknown emails still pay for one argon2 verification.
     */
    async authenticate(email: string, password: string): Promise<User | null> {
      const row = await prisma.user.findUnique({ where: { email: normalizeEmail(email) } });
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
}

export type UserService = ReturnType<typeof createUserService>;

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
