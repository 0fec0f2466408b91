import type { AuditContext, AuditLog } from '../audit/events.js';
import { AppError } from '../http/errors.js';
import type { LoginThrottle } from './login-throttle.js';
import type { UserService } from './users.js';

export interface SignInThrottleState {
  readonly userId: string;
  /** Consecutive failed sign-ins counted against the account. */
  readonly failures: number;
  /** Until when every sign-in (even with the right password) is refused; null when none is. */
  readonly delayedUntil: Date | null;
}

/** What admins see and clear of an account's sign-in throttling (admin API and CLI). */
export function createSignInLockout(users: UserService, throttle: LoginThrottle, audit: AuditLog) {
  const userOrThrow = async (id: string) => {
    const user = await users.findUserById(id);
    if (!user) throw new AppError(404, 'not_found', `no user ${id}`);
    return user;
  };
  return {
    async signInState(id: string): Promise<SignInThrottleState> {
      const user = await userOrThrow(id);
      return { userId: user.id, ...(await throttle.accountState(user.email)) };
    },

    /** Clears the account's failures and wait (passwords and second-factor codes), so its owner can sign in at once. */
    async unlockUser(id: string, context: AuditContext): Promise<SignInThrottleState> {
      const user = await userOrThrow(id);
      const cleared = await throttle.unlockAccount(user.email);
      await audit.record(context, { type: 'user.unlocked', subject: user.id, details: { cleared } });
      return { userId: user.id, failures: 0, delayedUntil: null };
    },
  };
}

export type SignInLockout = ReturnType<typeof createSignInLockout>;
