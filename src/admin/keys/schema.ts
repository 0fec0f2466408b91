import { z } from 'zod';
import { isStorableText } from '../../http/storable-text.js';

/** A signing key as the admin API shows it: public facts only, never key material. */
export const keyView = z.object({
  kid: z.string(),
  alg: z.string(),
  status: z.enum(['next', 'current', 'retired', 'revoked']),
  created_at: z.iso.datetime(),
  activated_at: z.iso.datetime().nullable(),
  retired_at: z.iso.datetime().nullable(),
  /** Set for a revoked key: it is no longer published and never signs again. */
  revoked_at: z.iso.datetime().nullable(),
});

/** `:kid` of a signing key (a uuid for Gatehouse's own); a value no key can have is a 404. */
export const kidParams = z.object({
  kid: z.string().min(1).max(200).refine(isStorableText, 'must not contain NUL or unpaired surrogates'),
});

/** What an emergency revocation did, by kid. */
export const revocationView = z.object({
  revoked: z.string(),
  previous_status: z.enum(['next', 'current', 'retired']),
  current: z.string(),
  next: z.string().nullable(),
  created: z.array(z.string()),
});

export const keyList = z.object({ data: z.array(keyView) });

/** What a rotation did, by kid. */
export const rotationView = z.object({
  promoted: z.string().nullable(),
  retired: z.string().nullable(),
  created: z.string().nullable(),
  removed: z.array(z.string()),
});
