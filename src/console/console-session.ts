import { createHash, randomBytes } from 'node:crypto';
import type { PrismaClient } from '../db/prisma.js';

/** A console session as the routes see it: whose it is, and the hint for end_session. */
export interface ConsoleSession {
  readonly userId: string;
  readonly idToken: string;
  /** SHA-256 of the cookie's token: the CSRF token of its forms is derived from it. */
  readonly idHash: string;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * The console's server-side sessions (table console_sessions). The cookie
 * carries 32 random bytes; only their hash is stored, so a read of the table
 * does not hand out sessions. Each use moves the idle deadline.
 */
export function createConsoleSessionStore(prisma: PrismaClient, idleSeconds: number) {
  const deadline = (from: Date) => new Date(from.getTime() + idleSeconds * 1000);
  return {
    /** A new session; returns the cookie's token (shown nowhere else). */
    async start(userId: string, idToken: string): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      const now = new Date();
      await prisma.consoleSession.create({
        data: { idHash: hashOf(token), userId, idToken, lastSeen: now, expiresAt: deadline(now) },
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
        select: { userId: true, idToken: true },
      });
      const row = touched[0];
      if (row) return { userId: row.userId, idToken: row.idToken, idHash };
      await prisma.consoleSession.deleteMany({ where: { idHash } });
      return undefined;
    },

    /** Ends the session of this token (sign-out); returns it when there was one. */
    async end(token: string): Promise<{ idToken: string } | undefined> {
      if (!/^[\w-]{43}$/.test(token)) return undefined;
      const rows = await prisma.$queryRaw<{ id_token: string }[]>`
        DELETE FROM console_sessions WHERE id_hash = ${hashOf(token)} RETURNING id_token`;
      return rows[0] ? { idToken: rows[0].id_token } : undefined;
    },
  };
}

export type ConsoleSessionStore = ReturnType<typeof createConsoleSessionStore>;

/** Deletes idle console sessions (the cleanup job); returns how many. */
export async function deleteExpiredConsoleSessions(prisma: PrismaClient): Promise<number> {
  const { count } = await prisma.consoleSession.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  return count;
}
