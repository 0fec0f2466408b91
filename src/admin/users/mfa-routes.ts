import { z } from 'zod';
import type { UserService } from '../../accounts/users.js';
import type { FactorSummary } from '../../mfa/mfa-store.js';
import type { MfaAdmin } from '../../mfa/mfa-service.js';
import type { AdminCaller } from '../admin-auth.js';
import { defineRoute, notFound, requireFullAdmin, type AdminRoute } from '../admin-route.js';

export const factorsView = z.object({
  user_id: z.uuid(),
  factors: z.array(
    z.object({
      id: z.uuid(),
      type: z.enum(['totp', 'passkey']),
      name: z.string(),
      created_at: z.string(),
      last_used_at: z.string().nullable(),
    }),
  ),
  recovery_codes_left: z.number().int(),
});

/** The fields of a user's second factors the admin API shows: never a secret or a recovery code. */
export function presentFactors(userId: string, factors: FactorSummary[], recoveryCodesLeft: number): z.infer<typeof factorsView> {
  return {
    user_id: userId,
    factors: factors.map((factor) => ({
      id: factor.id,
      type: factor.type,
      name: factor.name,
      created_at: factor.createdAt.toISOString(),
      last_used_at: factor.lastUsedAt?.toISOString() ?? null,
    })),
    recovery_codes_left: recoveryCodesLeft,
  };
}

/** A user's second factors: see them, remove one or all (an admin reset ends the user's sessions). */
export function mfaRoutes(users: UserService, mfa: MfaAdmin): AdminRoute[] {
  const existingUser = async (id: string | undefined, caller?: AdminCaller) => {
    const user = await users.findUserById(id ?? '');
    if (!user) throw notFound('user', id);
    // An admin's second factor is only reset with `admin`, as every change to an admin.
    if (caller && user.roles.includes('admin')) requireFullAdmin(caller, "resetting an admin user's second factors");
    return user;
  };
  return [
    defineRoute({
      method: 'get',
      path: '/users/:id/mfa',
      operationId: 'listUserMfaFactors',
      summary: "Show a user's second factors (types, names, created, last used) and recovery codes left",
      scope: 'admin:users:read',
      status: 200,
      response: factorsView,
      handle: async ({ params }) => {
        const user = await existingUser(params.id);
        return presentFactors(user.id, await mfa.listFactors(user.id), await mfa.recoveryCodesLeft(user.id));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/:id/mfa',
      operationId: 'resetUserMfa',
      summary: "Remove all of a user's second factors and recovery codes, and end their sessions",
      scope: 'admin:users:write',
      status: 204,
      handle: async ({ params, audit, caller }) => {
        const user = await existingUser(params.id, caller);
        await mfa.removeFactors(user.id, undefined, audit, { endSessions: true });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/:id/mfa/:factorId',
      operationId: 'removeUserMfaFactor',
      summary: "Remove one of a user's second factors, and end their sessions",
      scope: 'admin:users:write',
      status: 204,
      handle: async ({ params, audit, caller }) => {
        const user = await existingUser(params.id, caller);
        await mfa.removeFactors(user.id, params.factorId ?? '', audit, { endSessions: true });
      },
    }),
  ];
}
