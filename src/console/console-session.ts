import { createHash, randomBytes } from 'node:crypto';
import type { Prisma, PrismaClient } from '../db/prisma.js';

/** A console session as the routes see it: whose it is. */
export interface ConsoleSession {
  readonly userId: string;
  /** SHA-256 of the cookie's token: the CSRF token of its forms is derived from it. */
  readonly idHash: string;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/** The `idHash` of a cookie's token (what its forms' CSRF tokens are bound to), whether or not a session has it. */
export const consoleSessionHash = hashOf;

/** A console session as its sign-out sees it: whose, and the Gatehouse browser session it was signed in from. */
export interface EndingConsoleSession {
  readonly userId: string;
  /** oidc-provider's Session uid; null for a session started before it was recorded. */
  readonly sessionUid: string | null;
}

/**
 * The console's server-side sessions (table console_sessions). The cookie
 * carries 32 random bytes; only their hash is stored, so a read of the table
 * does not hand out sessions. Each use moves the idle deadline.
 */
export function createConsoleSessionStore(prisma: PrismaClient, idleSeconds: number) {
  const deadline = (from: Date) => new Date(from.getTime() + idleSeconds * 1000);
  return {
    /** A new session; returns the cookie's token (shown nowhere else). */
    async start(userId: string, sessionUid: string | undefined): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      const now = new Date();
      await prisma.consoleSession.create({
        data: { idHash: hashOf(token), userId, sessionUid: sessionUid ?? null, lastSeen: now, expiresAt: deadline(now) },
      });
      return token;
    },

    /**
     * The live session for this cookie token, its idle deadline moved on; an
     * idle one is deleted and undefined. The conditional update does both in one statement.
     */
    async use(token: string): Promise<ConsoleSession | undefined> {
      if (!/^[\w-]{43}$/.test(token)) return undefined;
      const idHash = hashOf(token);
      const now = new Date();
      const touched = await prisma.consoleSession.updateManyAndReturn({
        where: { idHash, expiresAt: { gt: now } },
        data: { lastSeen: now, expiresAt: deadline(now) },
        select: { userId: true },
      });
      const row = touched[0];
      if (row) return { userId: row.userId, idHash };
      await prisma.consoleSession.deleteMany({ where: { idHash } });
      return undefined;
    },

    /**
     * The session of this token as the sign-out needs it, idle or not (an idle
     * admin who clicks "Sign out" still means it), without moving its deadline.
     */
    async find(token: string): Promise<EndingConsoleSession | undefined> {
      if (!/^[\w-]{43}$/.test(token)) return undefined;
      const row = await prisma.consoleSession.findUnique({ where: { idHash: hashOf(token) }, select: { userId: true, sessionUid: true } });
      return row ?? undefined;
    },

    /** Ends the session of this token, in `db` (the sign-out's transaction) or on its own; whether there was one. */
    async end(token: string, db: Pick<Prisma.TransactionClient, 'consoleSession'> = prisma): Promise<boolean> {
      if (!/^[\w-]{43}$/.test(token)) return false;
      const { count } = await db.consoleSession.deleteMany({ where: { idHash: hashOf(token) } });
      return count > 0;
    },
  };
}

export type ConsoleSessionStore = ReturnType<typeof createConsoleSessionStore>;
