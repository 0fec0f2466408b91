import type { AuditContext, AuditLog, EventType } from '../audit/events.js';
import type { AccountEmails } from '../email/account-emails.js';
import { AppError } from '../http/errors.js';
import { ipCounterKey, type RequestCounters } from '../http/request-counters.js';
import type { Logger } from '../log.js';
import type { AccountTokenPurpose, AccountTokenStore } from './account-tokens.js';
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

/** One counter per address, shared by the public page and admins: an inbox gets at most a few links an hour whoever asks. */
const resetEmailKey = (email: string) => ipCounterKey('reset-email', email.trim().toLowerCase());

/**
 * Verification emails, per address, whoever asks (an admin, the user on the
 * account page, registration): their own count (a verification email does not
 * use up the address's reset links), as many. Without it, anyone who
 * registered with someone else's address could send it a link per click.
 */
const VERIFICATIONS_PER_EMAIL_PER_HOUR = 5;
const verifyEmailKey = (email: string) => ipCounterKey('verify-email', email.trim().toLowerCase());

/** Who sent a link from the admin side, for its audit event. */
export interface AdminSender {
  readonly audit: AuditContext;
  readonly details?: Record<string, unknown>;
}

const invalidLink = () => new AppError(400, 'invalid_token', 'This link has expired or was already used. Ask for a new one.');

/** Password reset and email verification by single-use links sent by email. */
export function createAccountRecovery(deps: AccountRecoveryDependencies) {
  /** Sends in the background: the answer takes as long whether or not an email goes out. */
  const sendLater = (sending: Promise<void>) => {
    sending.catch((error: unknown) => deps.log.warn(`email could not be sent: ${(error as Error).message}`));
  };

  const resetLink = (token: string) => `${deps.issuer}/reset-password?token=${token}`;

  /** Issues a reset link and emails it in the background: the answer takes as long whether or not an email goes out. */
  const sendResetLink = async (user: Pick<User, 'id' | 'email' | 'name'>, interactionUid?: string): Promise<void> => {
    const token = await deps.tokens.issue('password_reset', user, deps.resetTtl, interactionUid);
    sendLater(deps.emails.passwordReset(user, resetLink(token), deps.resetTtl));
  };

  const verificationLink = (token: string) => `${deps.issuer}/verify-email?token=${token}`;

  /** What differs between the links an admin sends. */
  interface AdminLink<Recipient extends Pick<User, 'id' | 'email' | 'name' | 'disabled'>> {
    readonly purpose: AccountTokenPurpose;
    /** As the start of "no … was sent" and "… this hour". */
    readonly noun: string;
    readonly plural: string;
    readonly counterKey: (email: string) => string;
    readonly perHour: number;
    readonly event: EventType;
    readonly ttl: () => number;
    readonly email: (user: Recipient, token: string) => Promise<void>;
    /** A reason particular to this kind of link to send nothing. */
    readonly refuse?: (user: Recipient) => AppError | undefined;
  }

  const RESET_LINK: AdminLink<Pick<User, 'id' | 'email' | 'name' | 'disabled'>> = {
    purpose: 'password_reset',
    noun: 'reset link',
    plural: 'reset links',
    counterKey: resetEmailKey,
    perHour: RESETS_PER_EMAIL_PER_HOUR,
    event: 'user.password_reset_sent',
    ttl: () => deps.resetTtl,
    email: (user, token) => deps.emails.passwordReset(user, resetLink(token), deps.resetTtl),
  };

  const VERIFICATION_EMAIL: AdminLink<Pick<User, 'id' | 'email' | 'name' | 'disabled' | 'emailVerified'>> = {
    purpose: 'email_verification',
    noun: 'verification email',
    plural: 'verification emails',
    counterKey: verifyEmailKey,
    perHour: VERIFICATIONS_PER_EMAIL_PER_HOUR,
    event: 'user.verification_email_sent',
    ttl: () => deps.verificationTtl,
    email: (user, token) => deps.emails.verifyEmail(user, verificationLink(token), deps.verificationTtl),
    refuse: (user) =>
      user.emailVerified
        ? new AppError(409, 'email_already_verified', `no verification email was sent: ${user.email} is already verified`)
        : undefined,
  };

  /**
   * A link an admin sends: throws, saying why, when nothing was sent. The
   * link, its event and its delivery to the mail server are one transaction,
   * so "sent" means handed to SMTP and a failed send keeps nothing.
   */
  const sendByAdmin = async <Recipient extends Pick<User, 'id' | 'email' | 'name' | 'disabled'>>(
    kind: AdminLink<Recipient>,
    user: Recipient,
    sentBy: AdminSender,
  ): Promise<{ readonly email: string; readonly expiresAt: Date }> => {
    if (!deps.emails.available) {
      throw new AppError(
        400,
        'email_unavailable',
        `no ${kind.noun} was sent: email delivery is not configured on this server (GATEHOUSE_SMTP_URL)`,
      );
    }
    const refused = kind.refuse?.(user);
    if (refused) throw refused;
    if (user.disabled) {
      throw new AppError(409, 'user_disabled', `no ${kind.noun} was sent: ${user.email} is disabled; enable the account first`);
    }
    const byEmail = await deps.counters.hit(kind.counterKey(user.email), 3600);
    if (byEmail.count > kind.perHour) {
      const minutes = Math.max(1, Math.ceil(byEmail.retryAfterSeconds / 60));
      throw new AppError(
        429,
        'too_many_requests',
        `no ${kind.noun} was sent: ${user.email} was already sent ${kind.perHour} ${kind.plural} this hour; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`,
        // RFC 9110 §10.2.3: seconds until the address's window ends.
        { 'Retry-After': String(byEmail.retryAfterSeconds) },
      );
    }
    let undelivered: Error | undefined;
    const deliver = async (token: string) => {
      try {
        await kind.email(user, token);
      } catch (error) {
        undelivered = error as Error;
        throw error;
      }
    };
    const ttl = kind.ttl();
    try {
      await deps.tokens.issue(kind.purpose, user, ttl, undefined, {
        context: sentBy.audit,
        event: { type: kind.event, subject: user.id, details: sentBy.details },
        deliver,
      });
    } catch (error) {
      if (!undelivered) throw error;
      deps.log.warn(`${kind.noun} for user ${user.id} could not be sent: ${undelivered.message}`);
      throw new AppError(
        503,
        'email_not_delivered',
        `no ${kind.noun} was sent: the mail server could not be reached or refused the email; try again later`,
      );
    }
    return { email: user.email, expiresAt: new Date(Date.now() + ttl * 1000) };
  };

  const recovery = {
    available: deps.emails.available,

    /**
     * "Forgot your password?": whether or not the email has an account, the
     * same answer; a link goes out only for an enabled account, at most a few
     * an hour. `ip_limited` when this IP asked too often.
     */
    async requestPasswordReset(email: string, ip: string, interactionUid?: string): Promise<'answered' | { ipLimited: number }> {
      if (!deps.emails.available) throw new AppError(503, 'email_unavailable', 'Password reset by email is not available on this server.');
      const byIp = await deps.counters.hit(ipCounterKey('reset-ip', ip), 3600);
      if (byIp.count > RESETS_PER_IP_PER_HOUR) return { ipLimited: byIp.retryAfterSeconds };
      const byEmail = await deps.counters.hit(resetEmailKey(email), 3600);
      if (byEmail.count > RESETS_PER_EMAIL_PER_HOUR) return 'answered';
      const user = await deps.users.findUserByEmail(email);
      if (!user || user.disabled) return 'answered';
      await sendResetLink(user, interactionUid);
      return 'answered';
    },

    /**
     * An admin sends a user a reset link (console, admin API, CLI). The admin
     * already knows the account exists, so unlike the public page this says
     * what happened: it throws when nothing was sent (no email delivery 400,
     * a disabled account 409, the per-address limit the public page also
     * counts 429 with Retry-After, the mail server failing 503). Sent (handed
     * to the mail server), it is recorded as `user.password_reset_sent` in the
     * transaction that issues the link; not sent, nothing is kept. No per-IP
     * limit: the admin is signed in.
     */
    sendPasswordResetLink: (
      user: Pick<User, 'id' | 'email' | 'name' | 'disabled'>,
      sentBy: AdminSender,
    ): Promise<{ readonly email: string; readonly expiresAt: Date }> => sendByAdmin(RESET_LINK, user, sentBy),

    /**
     * An admin sends a user a link that confirms their address (admin API,
     * console, CLI, and POST /admin/users with send_verification_email). As
     * the reset link: it throws when nothing was sent (no email delivery 400,
     * an address already verified 409 `email_already_verified`, a disabled
     * account 409, more than 5 an hour to the address 429 with Retry-After,
     * the mail server failing 503); sent, `user.verification_email_sent` is
     * recorded in the transaction that issues the link, which delivery ends.
     */
    sendVerificationLink: (
      user: Pick<User, 'id' | 'email' | 'name' | 'disabled' | 'emailVerified'>,
      sentBy: AdminSender,
    ): Promise<{ readonly email: string; readonly expiresAt: Date }> => sendByAdmin(VERIFICATION_EMAIL, user, sentBy),

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

    /**
     * Sends a link that confirms the user's current email address (the
     * account page's button, registration), in the background. Counted with
     * the verification emails admins send the address: beyond 5 an hour it
     * sends nothing and says how many seconds until the hour's window ends.
     */
    async sendVerificationEmail(
      user: User,
      interactionUid?: string,
    ): Promise<'sent' | { readonly perHour: number; readonly limitedForSeconds: number }> {
      if (!deps.emails.available)
        throw new AppError(400, 'email_unavailable', 'email is not configured on this server (GATEHOUSE_SMTP_URL)');
      const byEmail = await deps.counters.hit(verifyEmailKey(user.email), 3600);
      if (byEmail.count > VERIFICATIONS_PER_EMAIL_PER_HOUR)
        return { perHour: VERIFICATIONS_PER_EMAIL_PER_HOUR, limitedForSeconds: byEmail.retryAfterSeconds };
      const token = await deps.tokens.issue('email_verification', user, deps.verificationTtl, interactionUid);
      sendLater(deps.emails.verifyEmail(user, verificationLink(token), deps.verificationTtl));
      return 'sent';
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
