import { createHash } from 'node:crypto';
import type { PrismaClient } from '../../db/prisma.js';

/** Who entered a user code: the client IP and, when there is one, the browser session. */
export interface CodeEntrant {
  readonly ip: string;
  readonly sessionId: string | undefined;
}

export type AttemptReservation = { readonly allowed: false } | { readonly allowed: true; release(): Promise<void> };

export interface UserCodeAttemptLimiter {
  /**
   * Atomically: refuses when the IP or the session has used up its wrong
   * entries for the window; otherwise counts this entry as wrong until
   * `release()` says the code was right. Check and count are one step, so
   * concurrent guesses cannot all slip past the limit.
   */
  reserve(entrant: CodeEntrant): Promise<AttemptReservation>;
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
    async reserve(entrant) {
      const subjects = attemptSubjects(entrant).sort(); // one lock order for everyone: no deadlock
      const ids = await prisma.$transaction(
        async (tx) => {
          for (const subject of subjects) await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${subject}))`;
          const since = windowStart();
          for (const subject of subjects) {
            if ((await tx.userCodeFailure.count({ where: { subject, failedAt: { gt: since } } })) >= limits.attempts) return undefined;
          }
          const rows = await Promise.all(subjects.map((subject) => tx.userCodeFailure.create({ data: { subject }, select: { id: true } })));
          // Failures older than the window no longer count for anyone.
          await tx.userCodeFailure.deleteMany({ where: { failedAt: { lte: since } } });
          return rows.map((row) => row.id);
          // A burst of entries from one browser waits its turn for the lock and a pooled
          // connection rather than failing after Prisma's default 2 seconds (a 500).
        },
        { maxWait: 15_000, timeout: 15_000 },
      );
      if (!ids) return { allowed: false };
      return {
        allowed: true,
        async release() {
          await prisma.userCodeFailure.deleteMany({ where: { id: { in: ids } } });
        },
      };
    },
  };
}
