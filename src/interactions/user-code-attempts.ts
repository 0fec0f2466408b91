import { createHash } from 'node:crypto';
import type { PrismaClient } from '../db/prisma.js';

/** Who entered a user code: the client IP and, when there is one, the browser session. */
export interface CodeEntrant {
  readonly ip: string;
  readonly sessionId: string | undefined;
}

export interface UserCodeAttemptLimiter {
  /** True when the IP or the session has used up its wrong entries for the window. */
  isLockedOut(entrant: CodeEntrant): Promise<boolean>;
  /** Counts one wrong user code against the IP and the session. */
  recordFailure(entrant: CodeEntrant): Promise<void>;
}

export interface AttemptLimits {
  /** Wrong entries allowed per IP and per session within the window. */
  readonly attempts: number;
  readonly windowSeconds: number;
}

/**
 * The subjects a wrong entry counts against. Hashed: the table need not hold
 * IP addresses or session ids.
 */
export function attemptSubjects(entrant: CodeEntrant): string[] {
  const hash = (value: string) => createHash('sha256').update(value).digest('base64url');
  const subjects = [`ip:${hash(entrant.ip)}`];
  if (entrant.sessionId) subjects.push(`session:${hash(entrant.sessionId)}`);
  return subjects;
}

/**
 * RFC 8628 §5.1: user codes are short, so wrong entries are limited per client
 * IP and per browser session over a sliding window. Stored in Postgres so the
 * limit holds across instances.
 */
export function createUserCodeAttemptLimiter(prisma: PrismaClient, limits: AttemptLimits): UserCodeAttemptLimiter {
  const windowStart = () => new Date(Date.now() - limits.windowSeconds * 1000);
  return {
    async isLockedOut(entrant) {
      const since = windowStart();
      const counts = await Promise.all(
        attemptSubjects(entrant).map((subject) => prisma.userCodeFailure.count({ where: { subject, failedAt: { gt: since } } })),
      );
      return counts.some((count) => count >= limits.attempts);
    },

    async recordFailure(entrant) {
      await prisma.userCodeFailure.createMany({ data: attemptSubjects(entrant).map((subject) => ({ subject, failedAt: new Date() })) });
      // Failures older than the window no longer count for anyone.
      await prisma.userCodeFailure.deleteMany({ where: { failedAt: { lte: windowStart() } } });
    },
  };
}
