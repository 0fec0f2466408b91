import type { Permission } from '../../accounts/roles.js';
import { presentClient } from '../../admin/clients/presenter.js';
import { presentRole } from '../../admin/roles/presenter.js';
import { AppError } from '../../http/errors.js';
import { CLI_ACTOR, list, text, UsageError, type Command } from './command.js';

/** --resource URI --scope S…: permissions on one API (both or neither). */
function permissionsFrom(values: Record<string, unknown>): { resource: string; permissions: Permission[] } | undefined {
  const resource = text(values.resource);
  const scopes = list(values.scope);
  if (!resource && scopes.length) throw new UsageError('--scope needs --resource (the API the scopes belong to)');
  if (!resource) return undefined;
  return { resource, permissions: scopes.map((scope) => ({ resource, scope })) };
}

/** `--require-mfa true|false` on update (as `clients set` takes its policies); undefined when not given. */
function requireMfaFrom(value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UsageError('--require-mfa takes true or false');
}

/** Roles (RBAC), users' roles and client grants: the same services and presenters as the admin API. */
export const rolesCommands: Record<string, Command> = {
  'roles create': {
    summary: 'Create a role, optionally with permissions (scopes) on one API; --require-mfa makes its users sign in with a second factor',
    usage: 'roles create NAME [--description TEXT] [--resource URI --scope SCOPE…] [--require-mfa] [--json]',
    options: {
      description: { type: 'string' },
      resource: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'require-mfa': { type: 'boolean' },
    },
    positional: 'NAME',
    async run({ roles }, values, [name]) {
      const role = await roles.createRole(
        {
          name: name ?? '',
          description: text(values.description) ?? '',
          permissions: permissionsFrom(values)?.permissions ?? [],
          require_mfa: values['require-mfa'] === true,
        },
        CLI_ACTOR,
      );
      return { record: presentRole(role) };
    },
  },
  'roles list': {
    summary: 'List roles and their permissions',
    usage: 'roles list [--json]',
    options: {},
    async run({ roles }) {
      const { roles: found } = await roles.listRoles({ limit: 1000 });
      return { rows: found.map(presentRole), columns: ['id', 'name', 'description', 'built_in', 'require_mfa'] };
    },
  },
  'roles show': {
    summary: 'Show a role (by name or id)',
    usage: 'roles show NAME [--json]',
    options: {},
    positional: 'NAME',
    async run({ roles }, _values, [name]) {
      const role = await roles.findRole(name ?? '');
      if (!role) throw new AppError(404, 'not_found', `no role ${name}`);
      return { record: presentRole(role) };
    },
  },
  'roles update': {
    summary:
      'Rename or describe a role; --resource with --scope sets exactly its permissions on that API (no --scope: none there); --require-mfa true|false turns its second-factor requirement on or off',
    usage: 'roles update NAME [--name NEW_NAME] [--description TEXT] [--resource URI [--scope SCOPE…]] [--require-mfa true|false] [--json]',
    options: {
      'require-mfa': { type: 'string' },
      name: { type: 'string' },
      description: { type: 'string' },
      resource: { type: 'string' },
      scope: { type: 'string', multiple: true },
    },
    positional: 'NAME',
    async run({ roles }, values, [name]) {
      const requireMfa = requireMfaFrom(values['require-mfa']);
      const current = await roles.findRole(name ?? '');
      if (!current) throw new AppError(404, 'not_found', `no role ${name}`);
      const onApi = permissionsFrom(values);
      const permissions = onApi
        ? [...current.permissions.filter((permission) => permission.resource !== onApi.resource), ...onApi.permissions]
        : undefined;
      const role = await roles.updateRole(
        current.id,
        { name: text(values.name), description: text(values.description), permissions, require_mfa: requireMfa },
        CLI_ACTOR,
      );
      return { record: presentRole(role) };
    },
  },
  'roles delete': {
    summary: 'Delete a role (its users lose it; the built-in admin role cannot be deleted)',
    usage: 'roles delete NAME [--json]',
    options: {},
    positional: 'NAME',
    async run({ roles }, _values, [name]) {
      await roles.deleteRole(name ?? '', CLI_ACTOR);
      return { record: { name, deleted: true } };
    },
  },
  'users roles set': {
    summary: "Replace a user's roles (--none takes them all)",
    usage: 'users roles set USER_ID (--role NAME… | --none) [--json]',
    options: { role: { type: 'string', multiple: true }, none: { type: 'boolean' } },
    positional: 'USER_ID',
    async run({ roles }, values, [userId]) {
      const names = list(values.role);
      if (names.length === 0 && !values.none) throw new UsageError('name the roles with --role, or take them all with --none');
      if (names.length > 0 && values.none) throw new UsageError('--role and --none do not go together');
      return { record: { user_id: userId, roles: await roles.setUserRoles(userId ?? '', names, CLI_ACTOR) } };
    },
  },
  'clients grant': {
    summary: 'Let a client get tokens for an API with these scopes (added to what it has there); --default makes it the default_resource',
    usage: 'clients grant CLIENT_ID --resource URI [--scope SCOPE…] [--default] [--json]',
    options: { resource: { type: 'string' }, scope: { type: 'string', multiple: true }, default: { type: 'boolean' } },
    positional: 'CLIENT_ID',
    async run({ clients }, values, [clientId]) {
      const resource = text(values.resource);
      if (!resource) throw new UsageError('--resource is required');
      let client = await clients.grantApiAccess(clientId ?? '', resource, list(values.scope), CLI_ACTOR);
      if (values.default) client = await clients.updateClient(client.client_id, { default_resource: resource }, CLI_ACTOR);
      return { record: presentClient(client) };
    },
  },
};
