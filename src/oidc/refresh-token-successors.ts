import type { KeyObject } from 'node:crypto';
import { plainQuery, type PrismaClient } from '../db/prisma.js';
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

// Binds a sealed successor to the row of the token it replaced.
const associatedData = (consumedId: string) => `refresh-token-successor:${consumedId}`;

/** Storage for refresh-token retries (table refresh_token_successors). Ids are storage ids (SHA-256). */
export function createRefreshTokenSuccessors(prisma: PrismaClient, sealKey: KeyObject, graceSeconds: number): RefreshTokenSuccessors {
  // Straight through the client's pg pool: the rotation is on every refresh, the lookup on every retry (docs/performance.md).
  const query = plainQuery(prisma);
  return {
    graceSeconds,

    async rotate({ consumedId, successorId, successor, row }) {
      const epoch = Math.floor(Date.now() / 1000);
      const sealed = seal(successor, sealKey, associatedData(consumedId));
      // One statement, so one round trip and atomic on its own: consume the
      // presented token (a concurrent request waits on its row lock, then
      // finds it consumed and claims nothing), and only if that claimed it,
      // save the successor's row, forget the presented token's own
      // remembered predecessor (it is used now, so that one can no longer be
      // retried) and remember the successor.
      const rotated = await query<{ rotated: number }>(
        `WITH claimed AS (
          UPDATE oidc_payloads
             SET consumed_at = now(), payload = payload || jsonb_build_object('consumed', $1::bigint)
           WHERE model = 'RefreshToken' AND id = $2 AND consumed_at IS NULL
          RETURNING id
        ), saved AS (
          INSERT INTO oidc_payloads (model, id, payload, grant_id, user_code, uid, expires_at)
          SELECT 'RefreshToken', $3, $4::jsonb, $5, $6, $7, $8::timestamptz
            FROM claimed
        ), used AS (
          DELETE FROM refresh_token_successors WHERE successor_id = $2 AND EXISTS (SELECT 1 FROM claimed)
        ), remembered AS (
          INSERT INTO refresh_token_successors (model, id, successor_id, sealed_successor, expires_at)
          SELECT 'RefreshToken', $2, $3, $9, now() + make_interval(secs => $10::double precision)
            FROM claimed
        )
        SELECT count(*)::int AS rotated FROM claimed`,
        [
          epoch,
          consumedId,
          successorId,
          JSON.stringify(row.payload),
          row.grantId,
          row.userCode,
          row.uid,
          row.expiresAt,
          sealed,
          graceSeconds,
        ],
      );
      return rotated[0]?.rotated ? 'rotated' : 'lost';
    },

    async find(consumedId) {
      const rows = await query<{ sealed_successor: string }>(
        `SELECT s.sealed_successor
           FROM refresh_token_successors s
           JOIN oidc_payloads p ON p.model = 'RefreshToken' AND p.id = s.successor_id AND p.consumed_at IS NULL
          WHERE s.model = 'RefreshToken' AND s.id = $1 AND s.expires_at > now()`,
        [consumedId],
      );
      const sealed = rows[0]?.sealed_successor;
      return sealed === undefined ? undefined : unseal(sealed, sealKey, associatedData(consumedId));
    },
  };
}
