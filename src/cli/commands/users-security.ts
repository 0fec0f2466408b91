import { createSignInLockout, type SignInThrottleState } from '../../accounts/sign-in-lockout.js';
import { createAuditLog } from '../../audit/events.js';
import type { Command } from '../commands.js';
import type { CliContext } from '../context.js';
import type { Row } from '../output.js';

const CLI = { actor: 'cli' } as const;

const lockoutOf = (context: CliContext) => createSignInLockout(context.users, context.loginThrottle, createAuditLog(context.prisma));

const present = (state: SignInThrottleState): Row => ({
  id: state.userId,
  failed_attempts: state.failures,
  delayed_until: state.delayedUntil?.toISOString() ?? null,
});

/** An account's sign-in throttling, as the admin API's /users/:id/sign-in and /users/:id/unlock. */
export const usersSecurityCommands: Record<string, Command> = {
  'users sign-in': {
    summary: "Show a user's failed sign-ins and any wait they are under",
    usage: 'users sign-in ID [--json]',
    options: {},
    positional: 'ID',
    async run(context, _values, [id]) {
      return { record: present(await lockoutOf(context).signInState(id ?? '')) };
    },
  },
  'users unlock': {
    summary: "Clear a user's failed sign-ins so they can sign in at once",
    usage: 'users unlock ID [--json]',
    options: {},
    positional: 'ID',
    async run(context, _values, [id]) {
      return { record: present(await lockoutOf(context).unlockUser(id ?? '', CLI)) };
    },
  },
};
