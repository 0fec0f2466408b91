import { z } from 'zod';
import { pageQuery, pageSchema } from '../pagination.js';

const roles = z.array(z.string().regex(/^[\w:.-]{1,64}$/, 'roles are 1-64 characters of letters, digits, _ : . -')).max(50);

export const createUserBody = z
  .object({
    email: z.string().max(320),
    password: z.string().max(1024),
    name: z.string().max(200).nullable().optional(),
    roles: roles.optional(),
    email_verified: z.boolean().optional(),
    /** Email the user a link that confirms their address (when email_verified is not true). */
    send_verification_email: z.boolean().optional(),
  })
  .strict();

export const updateUserBody = z
  .object({
    email: z.string().max(320).optional(),
    password: z.string().max(1024).optional(),
    name: z.string().max(200).nullable().optional(),
    roles: roles.optional(),
    email_verified: z.boolean().optional(),
    disabled: z.boolean().optional(),
  })
  .strict();

export const listUsersQuery = z
  .object({
    email: z.string().max(320).optional(),
    /** Part of the email or name, any letter case (trigram indexes serve terms of 3 characters or more). */
    search: z.string().trim().max(320).optional(),
    ...pageQuery,
  })
  .strict();

export const userView = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string().nullable(),
  roles: z.array(z.string()),
  email_verified: z.boolean(),
  disabled: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
});

export const userPage = pageSchema(userView);

/** A reset link an admin had sent: to which address, and until when it works. */
export const resetLinkView = z.object({
  user_id: z.uuid(),
  /** The address the link was sent to (the mail server took the email). */
  email: z.string(),
  expires_at: z.string(),
});
