import { z } from 'zod';
import type { SignInLockout, SignInThrottleState } from '../../accounts/sign-in-lockout.js';
import { defineRoute, uuidParams, type AdminRoute } from '../admin-route.js';

export const signInStateView = z.object({
  user_id: z.uuid(),
  /** Wrong passwords in a row, and the wait they put the account under. */
  failed_attempts: z.number().int(),
  delayed_until: z.string().nullable(),
  /** Wrong second-factor codes (TOTP, recovery codes) in a row, on counters of their own, and their wait. */
  second_factor_failed_attempts: z.number().int(),
  second_factor_delayed_until: z.string().nullable(),
  /** Failed and throttled second-factor attempts (codes and passkeys) of the last 24 hours, newest first, at most 10. */
  second_factor_failures: z.array(
    z.object({
      occurred_at: z.string(),
      outcome: z.enum(['failed', 'throttled']),
      factor: z.enum(['totp', 'recovery_code', 'passkey', 'code']),
      client_ip: z.string().nullable(),
    }),
  ),
});

/** The fields of an account's sign-in throttling that the admin API shows. */
export function presentSignInState(state: SignInThrottleState): z.infer<typeof signInStateView> {
  return {
    user_id: state.userId,
    failed_attempts: state.failures,
    delayed_until: state.delayedUntil?.toISOString() ?? null,
    second_factor_failed_attempts: state.secondFactor.failures,
    second_factor_delayed_until: state.secondFactor.delayedUntil?.toISOString() ?? null,
    second_factor_failures: state.secondFactorFailures.map((failure) => ({
      occurred_at: failure.at.toISOString(),
      outcome: failure.outcome,
      factor: failure.factor,
      client_ip: failure.clientIp,
    })),
  };
}

/** An account's sign-in throttling: see it, and clear it. */
export function signInRoutes(lockout: SignInLockout): AdminRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/users/:id/sign-in',
      operationId: 'getUserSignIn',
      params: uuidParams,
      summary: "Show a user's failed sign-ins (passwords and second factors) and any wait they are under",
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
