import { createSignInLockout, type SignInThrottleState } from '../../accounts/sign-in-lockout.js';
import { createAuditLog } from '../../audit/events.js';
import { CLI_ACTOR, text, UsageError, type Command } from './command.js';
import type { CliContext } from '../context.js';
import type { Row } from '../output.js';

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
  'users set-password': {
    summary: "Set a user's password (the policy applies) and end their sessions and refresh tokens",
    usage: 'users set-password ID (--password-stdin | --password PASSWORD) [--json]',
    options: { password: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
    positional: 'ID',
    async run({ users }, values, [id], io) {
      const password = values['password-stdin'] ? (await io.readStdin()).replace(/\r?\n$/, '') : text(values.password);
      if (!password) throw new UsageError('a password is required (--password-stdin or --password)');
      const user = await users.updateUser(id ?? '', { password }, CLI_ACTOR);
      return { record: { id: user.id, email: user.email, sessions_ended: true } };
    },
  },
  'users unlock': {
    summary: "Clear a user's failed sign-ins so they can sign in at once",
    usage: 'users unlock ID [--json]',
    options: {},
    positional: 'ID',
    async run(context, _values, [id]) {
      return { record: present(await lockoutOf(context).unlockUser(id ?? '', CLI_ACTOR)) };
    },
  },
};
