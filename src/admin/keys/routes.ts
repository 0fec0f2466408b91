import { z } from 'zod';
import type { KeyService } from '../../keys/signing-keys.js';
import { defineRoute, type AdminRoute } from '../admin-route.js';

const keyView = z.object({
  kid: z.string(),
  alg: z.string(),
  status: z.enum(['next', 'current', 'retired']),
  created_at: z.string(),
  activated_at: z.string().nullable(),
  retired_at: z.string().nullable(),
});

const rotationView = z.object({
  promoted: z.string().nullable(),
  retired: z.string().nullable(),
  created: z.string().nullable(),
  removed: z.array(z.string()),
});

export function keyRoutes(keys: KeyService): AdminRoute[] {
  return [
    defineRoute({
      method: 'get', path: '/keys', summary: 'List signing keys (never private parts)', scope: 'admin:keys:read', status: 200,
      response: z.object({ data: z.array(keyView) }),
      handle: async () => ({
        data: (await keys.list()).map((key) => ({
          kid: key.kid,
          alg: key.alg,
          status: key.status,
          created_at: key.createdAt.toISOString(),
          activated_at: key.activatedAt?.toISOString() ?? null,
          retired_at: key.retiredAt?.toISOString() ?? null,
        })),
      }),
    }),
    defineRoute({
      method: 'post', path: '/keys/rotate', summary: 'Rotate now (409 rotation_too_soon while the next key is younger than the lead time)',
      scope: 'admin:keys:write', status: 200, response: rotationView,
      handle: async ({ audit }) => {
        const result = await keys.rotate(audit);
        return { promoted: result.promoted ?? null, retired: result.retired ?? null, created: result.created ?? null, removed: result.removed };
      },
    }),
  ];
}
