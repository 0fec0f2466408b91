import { z } from 'zod';
import type { SignInLockout, SignInThrottleState } from '../../accounts/sign-in-lockout.js';
import { defineRoute, uuidParams, type AdminRoute } from '../admin-route.js';

export const signInStateView = z.object({
  user_id: z.uuid(),
  failed_attempts: z.number().int(),
  delayed_until: z.string().nullable(),
});

/** The fields of an account's sign-in throttling that the admin API shows. */
export function presentSignInState(state: SignInThrottleState): z.infer<typeof signInStateView> {
  return { user_id: state.userId, failed_attempts: state.failures, delayed_until: state.delayedUntil?.toISOString() ?? null };
}

/** An account's sign-in throttling: see it, and clear it. */
export function signInRoutes(lockout: SignInLockout): AdminRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/users/:id/sign-in',
      operationId: 'getUserSignIn',
      params: uuidParams,
      summary: "Show a user's failed sign-ins and any wait they are under",
      scope: 'admin:users:read',
      status: 200,
      response: signInStateView,
      handle: async ({ params }) => presentSignInState(await lockout.signInState(params.id)),
    }),
    defineRoute({
      method: 'post',
      path: '/users/:id/unlock',
      operationId: 'unlockUser',
      params: uuidParams,
      summary: "Clear a user's failed sign-ins so they can sign in at once",
      scope: 'admin:users:write',
      status: 200,
      response: signInStateView,
      handle: async ({ params, audit }) => presentSignInState(await lockout.unlockUser(params.id, audit)),
    }),
  ];
}
