import type { PrismaClient } from '../db/prisma.js';
import { seal, unseal } from '../keys/encryption.js';

/** The columns of a refresh token's row, as the adapter builds them. */
export interface RefreshTokenRow {
  readonly payload: object;
  readonly grantId: string | null;
  readonly userCode: string | null;
  readonly uid: string | null;
  readonly expiresAt: Date | null;
}

export interface RefreshTokenSuccessors {
  /** Seconds a consumed refresh token may be retried for its successor. */
  readonly graceSeconds: number;
  /**
   * In one transaction: consume the presented token (unless another request
   * already did), save its successor's row and remember the successor, sealed,
   * for retries. `lost` when the presented token was already consumed: the
   * row lock makes this wait for the request that won, so its successor is
   * then known.
   */
  rotate(rotation: { consumedId: string; successorId: string; successor: string; row: RefreshTokenRow }): Promise<'rotated' | 'lost'>;
  /**
   * The successor handed out when `consumedId` was consumed, if a retry may
   * still get it: within the grace window, and the successor not used yet.
   */
  find(consumedId: string): Promise<string | undefined>;
}

// Concurrent refreshes of one token queue for pool connections and the row
// lock; Prisma's defaults (2 s to start, 5 s to finish) are short for a burst.
const TRANSACTION_LIMITS = { maxWait: 10_000, timeout: 15_000 };

// Binds a sealed successor to the row of the token it replaced.
const associatedData = (consumedId: string) => `refresh-token-successor:${consumedId}`;

/** Storage for refresh-token retries (table refresh_token_successors). Ids are storage ids (SHA-256). */
export function createRefreshTokenSuccessors(prisma: PrismaClient, sealKey: Buffer, graceSeconds: number): RefreshTokenSuccessors {
  return {
    graceSeconds,

    async rotate({ consumedId, successorId, successor, row }) {
      const epoch = Math.floor(Date.now() / 1000);
      const sealed = seal(successor, sealKey, associatedData(consumedId));
      return prisma.$transaction(async (tx) => {
        const claimed = await tx.$executeRaw`
          UPDATE oidc_payloads
             SET consumed_at = now(), payload = payload || jsonb_build_object('consumed', ${epoch}::int)
           WHERE model = 'RefreshToken' AND id = ${consumedId} AND consumed_at IS NULL`;
        if (claimed === 0) return 'lost' as const;
        await tx.oidcPayload.create({
          data: { model: 'RefreshToken', id: successorId, ...row, payload: JSON.parse(JSON.stringify(row.payload)) },
        });
        // The presented token was itself a successor: it is used now, so its
        // predecessor can no longer be retried.
        await tx.refreshTokenSuccessor.deleteMany({ where: { successorId: consumedId } });
        await tx.$executeRaw`
          INSERT INTO refresh_token_successors (model, id, successor_id, sealed_successor, expires_at)
          VALUES ('RefreshToken', ${consumedId}, ${successorId}, ${sealed}, now() + make_interval(secs => ${graceSeconds}))`;
        return 'rotated' as const;
      }, TRANSACTION_LIMITS);
    },

    async find(consumedId) {
      const rows = await prisma.$queryRaw<{ sealed_successor: string }[]>`
        SELECT s.sealed_successor
          FROM refresh_token_successors s
          JOIN oidc_payloads p ON p.model = 'RefreshToken' AND p.id = s.successor_id AND p.consumed_at IS NULL
         WHERE s.model = 'RefreshToken' AND s.id = ${consumedId} AND s.expires_at > now()`;
      const sealed = rows[0]?.sealed_successor;
      return sealed === undefined ? undefined : unseal(sealed, sealKey, associatedData(consumedId));
    },
  };
}

/** Deletes remembered successors whose grace window has passed; returns how many. */
export async function deleteExpiredSuccessors(prisma: PrismaClient): Promise<number> {
  return prisma.$executeRaw`DELETE FROM refresh_token_successors WHERE expires_at < now()`;
}
