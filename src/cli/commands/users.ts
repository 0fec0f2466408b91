import { presentUser } from '../../admin/users/presenter.js';
import { CLI_ACTOR, limitFrom, text, UsageError, type Command } from './command.js';

export const usersCommands: Record<string, Command> = {
  'users create': {
    summary: 'Create a user',
    usage: 'users create --email EMAIL (--password-stdin | --password PASSWORD) [--name NAME] [--roles a,b] [--email-verified] [--json]',
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      // Keeps the password out of `ps` and shell history.
      'password-stdin': { type: 'boolean' },
      name: { type: 'string' },
      roles: { type: 'string' },
      'email-verified': { type: 'boolean' },
    },
    async run({ users }, values, _positionals, io) {
      const email = text(values.email);
      const password = values['password-stdin'] ? (await io.readStdin()).replace(/\r?\n$/, '') : text(values.password);
      if (!email || !password) throw new UsageError('--email and a password (--password-stdin or --password) are required');
      const roles =
        text(values.roles)
          ?.split(',')
          .map((role) => role.trim())
          .filter(Boolean) ?? [];
      const user = await users.createUser(
        { email, password, name: text(values.name), roles, emailVerified: Boolean(values['email-verified']) },
        CLI_ACTOR,
      );
      return { record: presentUser(user) };
    },
  },

  'users list': {
    summary: 'List users',
    usage: 'users list [--email EMAIL] [--search TEXT] [--limit N] [--json]',
    options: { email: { type: 'string' }, search: { type: 'string' }, limit: { type: 'string' } },
    async run({ users }, values) {
      const { users: found } = await users.listUsers({
        email: text(values.email),
        search: text(values.search)?.trim() || undefined,
        limit: limitFrom(values),
      });
      return { rows: found.map(presentUser), columns: ['id', 'email', 'name', 'roles', 'disabled'] };
    },
  },

  'users disable': {
    summary: 'Disable a user and end their sessions (--enable to undo)',
    usage: 'users disable ID [--enable] [--json]',
    options: { enable: { type: 'boolean' } },
    positional: 'ID',
    async run({ users }, values, [id = '']) {
      return { record: presentUser(await users.setUserDisabled(id, !values.enable, CLI_ACTOR)) };
    },
  },

  'users delete': {
    summary: 'Delete a user and end their sessions',
    usage: 'users delete ID [--json]',
    options: {},
    positional: 'ID',
    async run({ users }, _values, [id = '']) {
      await users.deleteUser(id, CLI_ACTOR);
      return { record: { id, deleted: true } };
    },
  },
};
