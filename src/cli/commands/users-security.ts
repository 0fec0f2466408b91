import { segment } from '../admin-api.js';
import type { Row } from '../output.js';
import { PASSWORD_OPTIONS, passwordFrom, UsageError, type Command } from './command.js';

/** An account's sign-in throttling and password, as the admin API's /users/:id/sign-in, /unlock and PATCH. */
export const usersSecurityCommands: Record<string, Command> = {
  'users sign-in': {
    summary: "Show a user's failed sign-ins and any wait they are under",
    usage: 'users sign-in ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      return { record: (await api.call('get', `/users/${segment(id)}/sign-in`)) as Row };
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
};
