import { fetchPages, segment } from '../admin-api.js';
import type { Row } from '../output.js';
import { booleanFrom, PAGING_OPTIONS, PASSWORD_OPTIONS, pagingFrom, passwordFrom, text, UsageError, type Command } from './command.js';

const USER_FIELDS = { email: '--email', password: '--password', name: '--name', roles: '--roles', email_verified: '--email-verified' };

export const usersCommands: Record<string, Command> = {
  'users create': {
    summary: 'Create a user (the password policy applies)',
    usage:
      'users create --email EMAIL (--password-stdin | --password PASSWORD) [--name NAME] [--roles a,b] [--email-verified | --send-verification-email] [--json]',
    options: {
      email: { type: 'string', description: 'Their email address, which they sign in with (required)' },
      ...PASSWORD_OPTIONS,
      name: { type: 'string', description: 'Their display name' },
      roles: { type: 'string', description: 'Roles to give them, comma-separated (e.g. "admin,ops"); the roles must exist' },
      'email-verified': { type: 'boolean', description: 'Mark the address as verified (no verification email needed)' },
      'send-verification-email': {
        type: 'boolean',
        description:
          'Email them a link that confirms their address (needs GATEHOUSE_SMTP_URL at the server); the user is created whatever the mail server does, and verification_email_sent says whether the email went out',
      },
    },
    fields: { ...USER_FIELDS, send_verification_email: '--send-verification-email' },
    async run({ api }, values, _positionals, io) {
      const email = text(values.email);
      const password = await passwordFrom(values, io);
      if (!email || !password) throw new UsageError('--email and a password (--password-stdin or --password) are required');
      const roles =
        text(values.roles)
          ?.split(',')
          .map((role) => role.trim())
          .filter(Boolean) ?? [];
      const body = {
        email,
        password,
        name: text(values.name),
        roles,
        email_verified: Boolean(values['email-verified']),
        ...(values['send-verification-email'] ? { send_verification_email: true } : {}),
      };
      const created = (await api.call('post', '/users', { body })) as Row;
      const notSent = created.verification_email_error as { error_description?: string } | undefined;
      if (!notSent || values.json) return { record: created };
      // As text, the reason is a sentence on stderr (the user exists: it is not a failure of the command).
      const { verification_email_error: _why, ...record } = created;
      return { record, note: `${String(created.email)} was created, but ${String(notSent.error_description)}` };
    },
  },

  'users list': {
    summary: 'List users',
    usage: 'users list [--email EMAIL | --search TEXT] [--limit N] [--cursor CURSOR | --all] [--json]',
    options: {
      email: { type: 'string', description: 'Only the user with this email address' },
      search: { type: 'string', description: 'Only users whose email or name contains this, in any case' },
      ...PAGING_OPTIONS,
    },
    fields: { email: '--email', search: '--search' },
    async run({ api }, values) {
      const query = { email: text(values.email), search: text(values.search) };
      const { rows, nextCursor } = await fetchPages(api, '/users', query, pagingFrom(values));
      return { rows, nextCursor, columns: ['id', 'email', 'name', 'roles', 'disabled'] };
    },
  },

  'users show': {
    summary: 'Show a user',
    usage: 'users show ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      return { record: (await api.call('get', `/users/${segment(id)}`)) as Row };
    },
  },

  'users update': {
    summary: "Change a user's email address, name or verified flag",
    usage: 'users update ID [--email EMAIL] [--name NAME | --no-name] [--email-verified true|false] [--json]',
    options: {
      email: { type: 'string', description: 'Their new email address' },
      name: { type: 'string', description: 'Their new display name' },
      'no-name': { type: 'boolean', description: 'Remove their display name' },
      'email-verified': { type: 'string', description: 'true or false: whether their email address is verified' },
    },
    fields: USER_FIELDS,
    positional: 'ID',
    async run({ api }, values, [id]) {
      if (values.name !== undefined && values['no-name']) throw new UsageError('--name and --no-name do not go together');
      const changes: Record<string, unknown> = {};
      if (values.email !== undefined) changes.email = text(values.email);
      if (values.name !== undefined) changes.name = text(values.name);
      if (values['no-name']) changes.name = null;
      const verified = booleanFrom('email-verified', values['email-verified']);
      if (verified !== undefined) changes.email_verified = verified;
      if (Object.keys(changes).length === 0)
        throw new UsageError('name something to change: --email, --name, --no-name or --email-verified');
      return { record: (await api.call('patch', `/users/${segment(id)}`, { body: changes })) as Row };
    },
  },

  'users disable': {
    summary: 'Disable a user and end their sessions (--enable to undo)',
    usage: 'users disable ID [--enable] [--json]',
    options: { enable: { type: 'boolean', description: 'Enable the user again instead' } },
    positional: 'ID',
    async run({ api }, values, [id]) {
      return { record: (await api.call('patch', `/users/${segment(id)}`, { body: { disabled: !values.enable } })) as Row };
    },
  },

  'users revoke-sessions': {
    summary: 'End every session, grant and refresh token of a user (they sign in again everywhere)',
    usage: 'users revoke-sessions ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      await api.call('post', `/users/${segment(id)}/revoke-sessions`);
      return { record: { id, sessions_ended: true } };
    },
  },

  'users permissions': {
    summary: "A user's effective permissions through their roles, by API",
    usage: 'users permissions ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      const { permissions } = (await api.call('get', `/users/${segment(id)}/permissions`)) as { permissions: Record<string, string[]> };
      return { rows: Object.entries(permissions).map(([resource, scopes]) => ({ resource, scopes })) };
    },
  },

  'users delete': {
    summary: 'Delete a user and end their sessions',
    usage: 'users delete ID [--json]',
    options: {},
    positional: 'ID',
    async run({ api }, _values, [id]) {
      await api.call('delete', `/users/${segment(id)}`);
      return { record: { id, deleted: true } };
    },
  },
};
