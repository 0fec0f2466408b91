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
    /**
     * Email the user a link that confirms their address. The user is created
     * whether or not it goes out: the answer's verification_email_sent says.
     */
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

/** Why an email an admin asked for was not sent: the admin API's error body. */
const notSent = z.object({ error: z.string(), error_description: z.string() });

/**
 * A created user; with send_verification_email, also whether the mail server
 * took the verification email (the user exists either way) and, if not, why.
 */
export const createdUserView = userView.extend({
  /** Only when send_verification_email was true: whether the verification email was handed to the mail server. */
  verification_email_sent: z.boolean().optional(),
  /** Only when it was not sent: why, as the error sendUserVerificationEmail would answer (e.g. email_not_delivered). */
  verification_email_error: notSent.optional(),
});

/** A link an admin had sent (reset, verification): to which address, and until when it works. */
const sentLinkView = z.object({
  user_id: z.uuid(),
  /** The address the link was sent to (the mail server took the email). */
  email: z.string(),
  expires_at: z.string(),
});

export const resetLinkView = sentLinkView;

export const verificationLinkView = sentLinkView;
