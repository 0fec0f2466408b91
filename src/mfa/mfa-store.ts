import { createHash, randomUUID } from 'node:crypto';
import { recordEvent, type AuditContext, type NewEvent } from '../audit/events.js';
import { isUniqueViolation, isUuid, type PrismaClient, plainQuery } from '../db/prisma.js';
import { hasConfirmedFactorSql } from './confirmed-factor.js';

/** A second factor as the pages, API and CLI see it: never its secret. */
export interface FactorSummary {
  readonly id: string;
  readonly type: 'totp' | 'passkey';
  readonly name: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

/** A TOTP factor with its sealed secret (for the service only). */
export interface TotpRow {
  readonly id: string;
  readonly secret: string;
  readonly confirmed: boolean;
}

/** A passkey's public part: credential id and COSE public key (base64url), counter, transports. */
export interface StoredPasskey {
  readonly credentialId: string;
  readonly publicKey: string;
  readonly counter: number;
  readonly transports: string[];
}

export interface PendingLogin {
  readonly userId: string;
  /** RFC 8176 methods used so far in this sign-in. */
  readonly amr: string[];
}

const pendingKey = (interactionUid: string) => createHash('sha256').update(`mfa:${interactionUid}`).digest('base64url');

/** Storage of second factors, recovery codes and half-finished sign-ins (Postgres). */
export function createMfaStore(prisma: PrismaClient) {
  // The factor list and the pending second factor are read on every sign-in: straight through pg (plainQuery).
  const query = plainQuery(prisma);
  /** Ends every session, grant and token of a user (as users.ts does), inside the caller's transaction. */
  const endSessions = (tx: Pick<PrismaClient, '$executeRaw'>, userId: string) =>
    tx.$executeRaw`DELETE FROM oidc_payloads WHERE payload->>'accountId' = ${userId}`;

  return {
    async hasConfirmedFactor(userId: string): Promise<boolean> {
      if (!isUuid(userId)) return false; // no such user
      const [row] = await query<{ has: boolean }>(`SELECT ${hasConfirmedFactorSql('$1::uuid')} AS has`, [userId]);
      return row?.has ?? false;
    },

    async listFactors(userId: string): Promise<FactorSummary[]> {
      if (!isUuid(userId)) return []; // no such user
      const rows = await query<{ id: string; type: string; name: string; created_at: Date; last_used_at: Date | null }>(
        `SELECT id::text, type, name, created_at, last_used_at FROM mfa_factors
          WHERE user_id = $1::uuid AND confirmed_at IS NOT NULL ORDER BY created_at`,
        [userId],
      );
      return rows.map((row) => ({
        id: row.id,
        type: row.type === 'passkey' ? ('passkey' as const) : ('totp' as const),
        name: row.name,
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
      }));
    },

    async totpFactor(userId: string): Promise<TotpRow | undefined> {
      const row = await prisma.mfaFactor.findFirst({
        where: { userId, type: 'totp' },
        orderBy: { confirmedAt: { sort: 'desc', nulls: 'last' } },
      });
      return row?.secret ? { id: row.id, secret: row.secret, confirmed: row.confirmedAt !== null } : undefined;
    },

    /** A new unconfirmed TOTP factor (replacing any earlier unconfirmed one); `seal` seals the secret for the new id. */
    async createPendingTotp(userId: string, id: string, sealedSecret: string): Promise<void> {
      await prisma.$transaction([
        prisma.mfaFactor.deleteMany({ where: { userId, type: 'totp', confirmedAt: null } }),
        prisma.mfaFactor.create({ data: { id, userId, type: 'totp', name: 'Authenticator app', secret: sealedSecret } }),
      ]);
    },

    /**
     * Records the use of time step `step` of a TOTP factor: true once per step
     * and only for a step later than the last one used (RFC 6238 §5.2: a
     * verified code must not be accepted again). One conditional update, so
     * two parallel requests cannot both use the same code.
     */
    async useTotpStep(factorId: string, step: number): Promise<boolean> {
      const updated = await prisma.$executeRaw`
        UPDATE mfa_factors SET last_step = ${BigInt(step)}, last_used_at = now()
        WHERE id = ${factorId}::uuid AND (last_step IS NULL OR last_step < ${BigInt(step)})`;
      return updated === 1;
    },

    /** Confirms a pending TOTP factor and stores new recovery codes, with its audit event, in one transaction. */
    async confirmTotp(factorId: string, userId: string, step: number, codeHashes: string[], audit: AuditContext): Promise<boolean> {
      return prisma.$transaction(async (tx) => {
        const confirmed = await tx.mfaFactor.updateMany({
          where: { id: factorId, userId, confirmedAt: null },
          data: { confirmedAt: new Date(), lastStep: BigInt(step), lastUsedAt: new Date() },
        });
        if (confirmed.count !== 1) return false;
        // One TOTP per account: a confirmed older one is replaced.
        await tx.mfaFactor.deleteMany({ where: { userId, type: 'totp', id: { not: factorId } } });
        await tx.mfaRecoveryCode.deleteMany({ where: { userId } });
        await tx.mfaRecoveryCode.createMany({ data: codeHashes.map((codeHash) => ({ codeHash, userId })) });
        await recordEvent(tx, audit, { type: 'mfa.enrolled', subject: userId, details: { factor_id: factorId, type: 'totp' } });
        return true;
      });
    },

    async replaceRecoveryCodes(userId: string, codeHashes: string[], audit: AuditContext): Promise<void> {
      await prisma.$transaction(async (tx) => {
        await tx.mfaRecoveryCode.deleteMany({ where: { userId } });
        await tx.mfaRecoveryCode.createMany({ data: codeHashes.map((codeHash) => ({ codeHash, userId })) });
        await recordEvent(tx, audit, { type: 'mfa.recovery_codes_regenerated', subject: userId, details: { count: codeHashes.length } });
      });
    },

    /** Uses up a recovery code of this user: the count left, or undefined when it is not an unused code of theirs. */
    async useRecoveryCode(userId: string, codeHash: string, audit: AuditContext): Promise<number | undefined> {
      return prisma.$transaction(async (tx) => {
        const used = await tx.mfaRecoveryCode.updateMany({ where: { codeHash, userId, usedAt: null }, data: { usedAt: new Date() } });
        if (used.count !== 1) return undefined;
        const remaining = await tx.mfaRecoveryCode.count({ where: { userId, usedAt: null } });
        await recordEvent(tx, audit, { type: 'mfa.recovery_code_used', subject: userId, details: { remaining } });
        return remaining;
      });
    },

    recoveryCodesLeft(userId: string): Promise<number> {
      return prisma.mfaRecoveryCode.count({ where: { userId, usedAt: null } });
    },

    /**
     * Removes one factor (or all, with `factorId` undefined) and the recovery
     * codes when none is left, ends the user's sessions unless `keepSessions`,
     * and records it, all in one transaction. The number of factors removed.
     */
    async removeFactors(
      userId: string,
      factorId: string | undefined,
      audit: AuditContext,
      options: { endSessions: boolean },
    ): Promise<number> {
      return prisma.$transaction(async (tx) => {
        const removed = await tx.mfaFactor.deleteMany({
          where: { userId, ...(factorId ? { id: factorId } : {}), confirmedAt: { not: null } },
        });
        if (removed.count === 0) return 0;
        const left = await tx.mfaFactor.count({ where: { userId, confirmedAt: { not: null } } });
        if (left === 0) {
          await tx.mfaFactor.deleteMany({ where: { userId } });
          await tx.mfaRecoveryCode.deleteMany({ where: { userId } });
        }
        const event: NewEvent = { type: 'mfa.removed', subject: userId, details: { factor_id: factorId ?? 'all', removed: removed.count } };
        await recordEvent(tx, audit, event);
        if (options.endSessions) {
          const ended = await endSessions(tx, userId);
          await recordEvent(tx, audit, {
            type: 'user.sessions_revoked',
            subject: userId,
            details: { removed: ended, reasons: ['mfa_removed'] },
          });
        }
        return removed.count;
      });
    },

    /** Saves a WebAuthn challenge for `key` (replacing an earlier one). */
    async saveChallenge(key: string, challenge: string, ttlSeconds: number): Promise<void> {
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      await prisma.webauthnChallenge.upsert({ where: { key }, create: { key, challenge, expiresAt }, update: { challenge, expiresAt } });
    },

    /** The challenge of `key`, used up (deleted) as it is read; undefined when none is live. */
    async takeChallenge(key: string): Promise<string | undefined> {
      const rows = await prisma.$queryRaw<
        { challenge: string }[]
      >`DELETE FROM webauthn_challenges WHERE key = ${key} AND expires_at > now() RETURNING challenge`;
      return rows[0]?.challenge;
    },

    /** The credential ids of a user's passkeys. */
    async passkeyIds(userId: string): Promise<string[]> {
      const rows = await prisma.mfaFactor.findMany({
        where: { userId, type: 'passkey', confirmedAt: { not: null } },
        select: { credentialId: true },
      });
      return rows.flatMap((row) => (row.credentialId ? [row.credentialId] : []));
    },

    /** Stores a verified passkey and its audit event; false when the credential is already registered. */
    async addPasskey(userId: string, passkey: StoredPasskey & { name: string }, audit: AuditContext): Promise<boolean> {
      const id = randomUUID();
      try {
        await prisma.$transaction(async (tx) => {
          await tx.mfaFactor.create({
            data: {
              id,
              userId,
              type: 'passkey',
              name: passkey.name,
              confirmedAt: new Date(),
              credentialId: passkey.credentialId,
              publicKey: passkey.publicKey,
              counter: BigInt(passkey.counter),
              transports: passkey.transports,
            },
          });
          await recordEvent(tx, audit, { type: 'mfa.enrolled', subject: userId, details: { factor_id: id, type: 'passkey' } });
        });
        return true;
      } catch (error) {
        if (isUniqueViolation(error)) return false;
        throw error;
      }
    },

    async findPasskey(credentialId: string): Promise<(StoredPasskey & { factorId: string; userId: string }) | undefined> {
      const row = await prisma.mfaFactor.findFirst({ where: { credentialId, type: 'passkey', confirmedAt: { not: null } } });
      if (!row?.credentialId || !row.publicKey) return undefined;
      return {
        factorId: row.id,
        userId: row.userId,
        credentialId: row.credentialId,
        publicKey: row.publicKey,
        counter: Number(row.counter ?? 0n),
        transports: row.transports,
      };
    },

    /**
     * Records a passkey's new signature counter: true only when it grew (or
     * both are 0, an authenticator without a counter). WebAuthn §6.1.1: a
     * counter that does not grow may mean a cloned authenticator. One
     * conditional update, so a replay racing the original loses.
     */
    async usePasskeyCounter(factorId: string, counter: number): Promise<boolean> {
      const next = BigInt(counter);
      const updated = await prisma.$executeRaw`
        UPDATE mfa_factors SET counter = ${next}, last_used_at = now()
        WHERE id = ${factorId}::uuid AND (counter < ${next} OR (counter = 0 AND ${next} = 0))`;
      return updated === 1;
    },

    async startPendingLogin(interactionUid: string, login: PendingLogin, ttlSeconds: number): Promise<void> {
      const key = pendingKey(interactionUid);
      const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
      await prisma.mfaPendingLogin.upsert({
        where: { key },
        create: { key, userId: login.userId, amr: login.amr, expiresAt },
        update: { userId: login.userId, amr: login.amr, expiresAt },
      });
    },

    async pendingLogin(interactionUid: string): Promise<PendingLogin | undefined> {
      const [row] = await query<{ user_id: string; amr: string[] }>(
        'SELECT user_id::text, amr FROM mfa_pending_logins WHERE key = $1 AND expires_at > $2',
        [pendingKey(interactionUid), new Date()],
      );
      return row ? { userId: row.user_id, amr: row.amr } : undefined;
    },

    async endPendingLogin(interactionUid: string): Promise<void> {
      await query('DELETE FROM mfa_pending_logins WHERE key = $1', [pendingKey(interactionUid)]);
    },
  };
}

export type MfaStore = ReturnType<typeof createMfaStore>;
