import type { AuditContext, AuditLog, EventType, EventView } from '../audit/events.js';
import { AppError } from '../http/errors.js';
import type { LoginThrottle } from './login-throttle.js';
import type { UserService } from './users.js';

export interface SignInThrottleState {
  readonly userId: string;
  /** Consecutive failed sign-ins counted against the account. */
  readonly failures: number;
  /** Until when every sign-in (even with the right password) is refused; null when none is. */
  readonly delayedUntil: Date | null;
  /** The same for wrong second-factor codes (TOTP and recovery codes: counters of their own). */
  readonly secondFactor: { readonly failures: number; readonly delayedUntil: Date | null };
  /** Failed and throttled second-factor attempts of the last day, newest first (at most RECENT_FAILURES_SHOWN). */
  readonly secondFactorFailures: readonly SecondFactorFailure[];
}

export interface SecondFactorFailure {
  readonly at: Date;
  readonly outcome: 'failed' | 'throttled';
  /** `code`: a TOTP or recovery code from before the factor was recorded in the event. */
  readonly factor: 'totp' | 'recovery_code' | 'passkey' | 'code';
  readonly clientIp: string | null;
}

/** Reads the audit log (src/audit/events.ts listSubjectEvents). */
export type SubjectEvents = (filter: { subject: string; types: readonly EventType[]; since: Date; limit: number }) => Promise<EventView[]>;

const RECENT_FAILURES_WINDOW_MS = 24 * 3600 * 1000;
export const RECENT_FAILURES_SHOWN = 10;
const FACTORS = new Set(['totp', 'recovery_code', 'passkey']);

const secondFactorFailure = (event: EventView): SecondFactorFailure => {
  const details = (event.details ?? {}) as { type?: unknown };
  const factor = typeof details.type === 'string' && FACTORS.has(details.type) ? (details.type as SecondFactorFailure['factor']) : 'code';
  return {
    at: new Date(event.occurred_at),
    outcome: event.type === 'mfa.throttled' ? 'throttled' : 'failed',
    factor,
    clientIp: event.client_ip,
  };
};

/** What admins see and clear of an account's sign-in throttling (admin API and CLI). */
export function createSignInLockout(users: UserService, throttle: LoginThrottle, audit: AuditLog, events: SubjectEvents) {
  const userOrThrow = async (id: string) => {
    const user = await users.findUserById(id);
    if (!user) throw new AppError(404, 'not_found', `no user ${id}`);
    return user;
  };
  const state = {
    async signInState(id: string): Promise<SignInThrottleState> {
      const user = await userOrThrow(id);
      const [password, secondFactor, failures] = await Promise.all([
        throttle.accountState(user.email),
        throttle.secondFactorState(user.email),
        events({
          subject: user.id,
          types: ['mfa.failed', 'mfa.throttled'],
          since: new Date(Date.now() - RECENT_FAILURES_WINDOW_MS),
          limit: RECENT_FAILURES_SHOWN,
        }),
      ]);
      return { userId: user.id, ...password, secondFactor, secondFactorFailures: failures.map(secondFactorFailure) };
    },

    /** Clears the account's failures and wait (passwords and second-factor codes), so its owner can sign in at once. */
    async unlockUser(id: string, context: AuditContext): Promise<SignInThrottleState> {
      const user = await userOrThrow(id);
      const cleared = await throttle.unlockAccount(user.email);
      await audit.record(context, { type: 'user.unlocked', subject: user.id, details: { cleared } });
      return state.signInState(user.id);
    },
  };
  return state;
}

export type SignInLockout = ReturnType<typeof createSignInLockout>;
