import type { AuditContext, AuditLog } from '../audit/events.js';
import type { AccountEmails } from '../email/account-emails.js';
import { AppError } from '../http/errors.js';
import { ipCounterKey, type RequestCounters } from '../http/request-counters.js';
import type { Logger } from '../log.js';
import type { AccountTokenStore } from './account-tokens.js';
import type { User, UserService } from './users.js';

export interface AccountRecoveryDependencies {
  readonly issuer: string;
  readonly users: UserService;
  readonly tokens: AccountTokenStore;
  readonly emails: AccountEmails;
  readonly counters: RequestCounters;
  readonly audit: AuditLog;
  readonly log: Logger;
  /** Seconds a reset link works. */
  readonly resetTtl: number;
  /** Seconds a verification link works. */
  readonly verificationTtl: number;
}

// Reset requests: per email, more than this an hour are answered the same but send nothing; per IP, refused.
const RESETS_PER_EMAIL_PER_HOUR = 5;
const RESETS_PER_IP_PER_HOUR = 20;

const invalidLink = () => new AppError(400, 'invalid_token', 'This link has expired or was already used. Ask for a new one.');

/** Password reset and email verification by single-use links sent by email. */
export function createAccountRecovery(deps: AccountRecoveryDependencies) {
  /** Sends in the background: the answer takes as long whether or not an email goes out. */
  const sendLater = (sending: Promise<void>) => {
    sending.catch((error: unknown) => deps.log.warn(`email could not be sent: ${(error as Error).message}`));
  };

  const recovery = {
    available: deps.emails.available,

    /**
     * "Forgot your password?": whether or not the email has an account, the
     * same answer; a link goes out only for an enabled account, at most a few
     * an hour. `ip_limited` when this IP asked too often. `sentBy`: an
     * admin sending the link (the console), recorded as
     * `user.password_reset_sent` in the transaction that issues the link.
     */
    async requestPasswordReset(
      email: string,
      ip: string,
      interactionUid?: string,
      sentBy?: { readonly audit: AuditContext; readonly details?: Record<string, unknown> },
    ): Promise<'answered' | { ipLimited: number }> {
      if (!deps.emails.available) throw new AppError(503, 'email_unavailable', 'Password reset by email is not available on this server.');
      const byIp = await deps.counters.hit(ipCounterKey('reset-ip', ip), 3600);
      if (byIp.count > RESETS_PER_IP_PER_HOUR) return { ipLimited: byIp.retryAfterSeconds };
      const byEmail = await deps.counters.hit(ipCounterKey('reset-email', email.trim().toLowerCase()), 3600);
      if (byEmail.count > RESETS_PER_EMAIL_PER_HOUR) return 'answered';
      const user = await deps.users.findUserByEmail(email);
      if (!user || user.disabled) return 'answered';
      const token = await deps.tokens.issue(
        'password_reset',
        user,
        deps.resetTtl,
        interactionUid,
        sentBy && { context: sentBy.audit, event: { type: 'user.password_reset_sent', subject: user.id, details: sentBy.details } },
      );
      sendLater(deps.emails.passwordReset(user, `${deps.issuer}/reset-password?token=${token}`, deps.resetTtl));
      return 'answered';
    },

    /** The account a reset link is for, while it works. */
    async resetLinkAccount(token: string): Promise<User> {
      const claim = await deps.tokens.peek('password_reset', token);
      const user = claim ? await deps.users.findUserById(claim.userId) : null;
      if (!claim || !user || user.email !== claim.email || user.disabled) throw invalidLink();
      return user;
    },

    /**
     * Sets the new password (the policy applies) and uses the link up; every
     * session and refresh token of the old password ends. Returns the sign-in
     * to continue, if the link was asked for from one.
     */
    async resetPassword(token: string, password: string, audit: AuditContext): Promise<{ interactionUid: string | null }> {
      const user = await recovery.resetLinkAccount(token);
      await deps.users.assertPasswordAllowed(password, user);
      const claim = await deps.tokens.use('password_reset', token);
      if (!claim) throw invalidLink();
      await deps.users.updateUser(user.id, { password }, { ...audit, actor: `user:${user.id}` });
      await deps.tokens.revokeAll('password_reset', user.id);
      await deps.audit.record({ ...audit, actor: `user:${user.id}` }, { type: 'user.password_reset', subject: user.id });
      return { interactionUid: claim.interactionUid };
    },

    /** Sends a link that confirms the user's current email address. */
    async sendVerificationEmail(user: User, interactionUid?: string): Promise<void> {
      if (!deps.emails.available)
        throw new AppError(400, 'email_unavailable', 'email is not configured on this server (GATEHOUSE_SMTP_URL)');
      const token = await deps.tokens.issue('email_verification', user, deps.verificationTtl, interactionUid);
      sendLater(deps.emails.verifyEmail(user, `${deps.issuer}/verify-email?token=${token}`, deps.verificationTtl));
    },

    /** The account a verification link is for, while it works. */
    async verificationLinkAccount(token: string): Promise<User> {
      const claim = await deps.tokens.peek('email_verification', token);
      const user = claim ? await deps.users.findUserById(claim.userId) : null;
      if (!claim || !user || user.email !== claim.email) throw invalidLink();
      return user;
    },

    /** Marks the address verified (the email_verified claim follows). */
    async verifyEmail(token: string, audit: AuditContext): Promise<User> {
      const user = await recovery.verificationLinkAccount(token);
      const claim = await deps.tokens.use('email_verification', token);
      if (!claim || claim.email !== user.email) throw invalidLink();
      const verified = await deps.users.updateUser(user.id, { emailVerified: true }, { ...audit, actor: `user:${user.id}` });
      await deps.audit.record({ ...audit, actor: `user:${user.id}` }, { type: 'user.email_verified', subject: user.id });
      return verified;
    },
  };
  return recovery;
}

export type AccountRecovery = ReturnType<typeof createAccountRecovery>;
