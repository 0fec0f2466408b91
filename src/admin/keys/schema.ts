import { z } from 'zod';

/** A signing key as the admin API shows it: public facts only, never key material. */
export const keyView = z.object({
  kid: z.string(),
  alg: z.string(),
  status: z.enum(['next', 'current', 'retired']),
  created_at: z.iso.datetime(),
  activated_at: z.iso.datetime().nullable(),
  retired_at: z.iso.datetime().nullable(),
});

export const keyList = z.object({ data: z.array(keyView) });

/** What a rotation did, by kid. */
export const rotationView = z.object({
  promoted: z.string().nullable(),
  retired: z.string().nullable(),
  created: z.string().nullable(),
  removed: z.array(z.string()),
});
