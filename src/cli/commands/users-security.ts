import { segment } from '../admin-api.js';
import type { Row } from '../output.js';
import { PASSWORD_OPTIONS, passwordFrom, UsageError, type Command } from './command.js';

interface SecondFactorFailureRow {
  readonly occurred_at: string;
  readonly outcome: string;
  readonly factor: string;
  readonly client_ip: string | null;
}

/** An account's sign-in throttling, password and emails, as the admin API's /users/:id/sign-in, /unlock, /password-reset, /verification-email and PATCH. */
export const usersSecurityCommands: Record<string, Command> = {
  'users sign-in': {
    summary: "Show a user's failed sign-ins (passwords and second factors) and any wait they are under",
    usage: 'users sign-in ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, values, [id]) {
      const state = (await api.call('get', `/users/${segment(id)}/sign-in`)) as Row;
      if (values.json) return { record: state };
      // As text, one phrase per failed second-factor attempt: when, what happened, which factor, from where.
      const failures = (state.second_factor_failures ?? []) as SecondFactorFailureRow[];
      return {
        record: {
          ...state,
          second_factor_failures: failures.length
            ? failures.map(
                (failure) => `${failure.occurred_at} ${failure.outcome} ${failure.factor} from ${failure.client_ip ?? 'unknown'}`,
              )
            : 'none',
        },
      };
    },
  },
  'users set-password': {
    summary: "Set a user's password (the policy applies) and end their sessions and refresh tokens",
    usage: 'users set-password ID (--password-stdin | --password PASSWORD) [--json]',
    options: PASSWORD_OPTIONS,
    fields: { password: '--password' },
    positional: 'ID',
    async run({ api }, values, [id], io) {
      const password = await passwordFrom(values, io);
      if (!password) throw new UsageError('a password is required (--password-stdin or --password)');
      const user = (await api.call('patch', `/users/${segment(id)}`, { body: { password } })) as Row;
      return { record: { id: user.id, email: user.email, sessions_ended: true } };
    },
  },
  'users unlock': {
    summary: "Clear a user's failed sign-ins so they can sign in at once",
    usage: 'users unlock ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      return { record: (await api.call('post', `/users/${segment(id)}/unlock`)) as Row };
    },
  },
  'users send-reset-link': {
    summary:
      'Email a user a password reset link; fails, saying why, when none was sent (account disabled, the address had its links for the hour, no email delivery, the mail server failing)',
    usage: 'users send-reset-link ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      return { record: (await api.call('post', `/users/${segment(id)}/password-reset`)) as Row };
    },
  },
  'users send-verification-email': {
    summary:
      'Email a user a link that confirms their address; fails, saying why, when none was sent (already verified, account disabled, the address had its emails for the hour, no email delivery, the mail server failing)',
    usage: 'users send-verification-email ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      return { record: (await api.call('post', `/users/${segment(id)}/verification-email`)) as Row };
    },
  },
};
