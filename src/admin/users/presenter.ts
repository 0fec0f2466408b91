import type { z } from 'zod';
import type { User } from '../../accounts/users.js';
import type { createdUserView, resetLinkView, userView } from './schema.js';

/** The fields a user shows to the admin API: never a password or its hash. */
export function presentUser(user: User): z.infer<typeof userView> {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    roles: user.roles,
    email_verified: user.emailVerified,
    disabled: user.disabled,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}

/** The fields of a sent link (reset, verification) that the admin API shows: never the link itself. */
export function presentSentLink(user: Pick<User, 'id'>, sent: { email: string; expiresAt: Date }): z.infer<typeof resetLinkView> {
  return { user_id: user.id, email: sent.email, expires_at: sent.expiresAt.toISOString() };
}

/** A created user, and whether the verification email asked for went out (only when one was asked for). */
export function presentCreatedUser(
  user: User,
  verification?: { sent: true } | { sent: false; error: string; description: string },
): z.infer<typeof createdUserView> {
  if (!verification) return presentUser(user);
  return {
    ...presentUser(user),
    verification_email_sent: verification.sent,
    ...(verification.sent ? {} : { verification_email_error: { error: verification.error, error_description: verification.description } }),
  };
}
