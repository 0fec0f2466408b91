import { createHash, randomBytes } from 'node:crypto';
import { recordEvent, type AuditContext, type NewEvent } from '../audit/events.js';
import type { PrismaClient } from '../db/prisma.js';

export type AccountTokenPurpose = 'password_reset' | 'email_verification';

export interface AccountTokenClaim {
  readonly userId: string;
  /** The address the link was sent to. */
  readonly email: string;
  /** The sign-in the link was asked from, to continue after it. */
  readonly interactionUid: string | null;
}

/** How long a transaction that delivers its link may stay open. */
const DELIVERY_TIMEOUT_MS = 30_000;

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/**
 * Single-use links sent by email. The token (256 random bits) appears only in
 * the email; the table holds its SHA-256. Using one is one conditional update,
 * so two requests with the same link cannot both succeed.
 */
export function createAccountTokenStore(prisma: PrismaClient) {
  return {
    async issue(
      purpose: AccountTokenPurpose,
      user: { id: string; email: string },
      ttlSeconds: number,
      interactionUid?: string,
      audited?: {
        readonly context: AuditContext;
        readonly event: NewEvent;
        /**
         * Hands the link over (emails it) as the transaction's last step: when
         * it throws, neither the link nor the event is kept.
         */
        readonly deliver?: (token: string) => Promise<void>;
      },
    ): Promise<string> {
      const token = randomBytes(32).toString('base64url');
      const data = {
        tokenHash: hashOf(token),
        purpose,
        userId: user.id,
        email: user.email,
        interactionUid: interactionUid ?? null,
        expiresAt: new Date(Date.now() + ttlSeconds * 1000),
      };
      if (!audited) {
        await prisma.accountToken.create({ data });
        return token;
      }
      // An admin's link and its audit event: both or neither.
      await prisma.$transaction(
        async (tx) => {
          await tx.accountToken.create({ data });
          await recordEvent(tx, audited.context, audited.event);
          await audited.deliver?.(token);
        },
        // Delivery to the mail server inside: more than Prisma's 5 s default.
        audited.deliver ? { timeout: DELIVERY_TIMEOUT_MS } : undefined,
      );
      return token;
    },

    /** What a link is for, while it is valid and unused (without using it). */
    async peek(purpose: AccountTokenPurpose, token: string): Promise<AccountTokenClaim | undefined> {
      if (!/^[\w-]{43}$/.test(token)) return undefined;
      const row = await prisma.accountToken.findFirst({
        where: { tokenHash: hashOf(token), purpose, usedAt: null, expiresAt: { gt: new Date() } },
      });
      return row ? { userId: row.userId, email: row.email, interactionUid: row.interactionUid } : undefined;
    },

    /** Uses a link up: its claim once, undefined for an unknown, expired or used one. */
    async use(purpose: AccountTokenPurpose, token: string): Promise<AccountTokenClaim | undefined> {
      if (!/^[\w-]{43}$/.test(token)) return undefined;
      const rows = await prisma.$queryRaw<{ user_id: string; email: string; interaction_uid: string | null }[]>`
        UPDATE account_tokens SET used_at = now()
        WHERE token_hash = ${hashOf(token)} AND purpose = ${purpose} AND used_at IS NULL AND expires_at > now()
        RETURNING user_id::text, email, interaction_uid`;
      const row = rows[0];
      return row ? { userId: row.user_id, email: row.email, interactionUid: row.interaction_uid } : undefined;
    },

    /** Ends a user's other unused links of this purpose (after a reset, older reset links stop working). */
    async revokeAll(purpose: AccountTokenPurpose, userId: string): Promise<void> {
      await prisma.accountToken.updateMany({ where: { purpose, userId, usedAt: null }, data: { usedAt: new Date() } });
    },
  };
}

export type AccountTokenStore = ReturnType<typeof createAccountTokenStore>;
