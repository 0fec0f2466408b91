import type { z } from 'zod';
import type { User } from '../../accounts/users.js';
import type { resetLinkView, userView } from './schema.js';

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

/** The fields of a sent reset link that the admin API shows: never the link itself. */
export function presentResetLink(user: User, sent: { email: string; expiresAt: Date }): z.infer<typeof resetLinkView> {
  return { user_id: user.id, email: sent.email, expires_at: sent.expiresAt.toISOString() };
}
