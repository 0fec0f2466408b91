import { AppError } from '../../http/errors.js';
import { fetchPages, segment, type AdminApi } from '../admin-api.js';
import type { Row } from '../output.js';
import { booleanFrom, list, PAGING_OPTIONS, pagingFrom, text, UsageError, type Command } from './command.js';

interface Permission {
  readonly resource: string;
  readonly scope: string;
}

/** --resource URI --scope S…: permissions on one API (both or neither). */
function permissionsFrom(values: Record<string, unknown>): { resource: string; permissions: Permission[] } | undefined {
  const resource = text(values.resource);
  const scopes = list(values.scope);
  if (!resource && scopes.length) throw new UsageError('--scope needs --resource (the API the scopes belong to)');
  if (!resource) return undefined;
  return { resource, permissions: scopes.map((scope) => ({ resource, scope })) };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A role by id, or by name (which is what operators type). */
async function findRole(api: AdminApi, nameOrId: string | undefined): Promise<Row & { id: string; permissions: Permission[] }> {
  const wanted = nameOrId ?? '';
  if (UUID.test(wanted)) return (await api.call('get', `/roles/${wanted}`)) as Row & { id: string; permissions: Permission[] };
  const { rows } = await fetchPages(api, '/roles', {}, { all: true });
  const role = rows.find((candidate) => candidate.name === wanted);
  if (!role) throw new AppError(404, 'not_found', `no role ${wanted}`);
  return role as Row & { id: string; permissions: Permission[] };
}

const PERMISSION_OPTIONS = {
  resource: { type: 'string', description: 'The API (resource URI) the --scope permissions are on' },
  scope: { type: 'string', multiple: true, description: 'A scope of that API the role grants (repeatable)' },
} as const;

const ROLE_FIELDS = { name: 'NAME', description: '--description', permissions: '--scope', require_mfa: '--require-mfa' };

/** Roles (RBAC), users' roles and client grants: the admin API's /roles, /users/:id/roles and /clients/:id. */
export const rolesCommands: Record<string, Command> = {
  'roles create': {
    summary: 'Create a role, optionally with permissions (scopes) on one API; --require-mfa makes its users sign in with a second factor',
    usage: 'roles create NAME [--description TEXT] [--resource URI --scope SCOPE…] [--require-mfa] [--json]',
    options: {
      description: { type: 'string', description: 'What the role is for' },
      ...PERMISSION_OPTIONS,
      'require-mfa': { type: 'boolean', description: 'Its users must sign in with a second factor' },
    },
    fields: ROLE_FIELDS,
    positional: 'NAME',
    async run({ api }, values, [name]) {
      const body = {
        name,
        description: text(values.description) ?? '',
        permissions: permissionsFrom(values)?.permissions ?? [],
        require_mfa: values['require-mfa'] === true,
      };
      return { record: (await api.call('post', '/roles', { body })) as Row };
    },
  },
  'roles list': {
    summary: 'List roles and their permissions',
    usage: 'roles list [--limit N] [--cursor CURSOR | --all] [--json]',
    options: PAGING_OPTIONS,
    async run({ api }, values) {
      const { rows, nextCursor } = await fetchPages(api, '/roles', {}, pagingFrom(values));
      return { rows, nextCursor, columns: ['id', 'name', 'description', 'built_in', 'require_mfa'] };
    },
  },
  'roles show': {
    summary: 'Show a role (by name or id)',
    usage: 'roles show NAME [--json]',
    options: {},
    positional: 'NAME',
    async run({ api }, _values, [name]) {
      return { record: await findRole(api, name) };
    },
  },
  'roles update': {
    summary:
      'Rename or describe a role; --resource with --scope sets exactly its permissions on that API (no --scope: none there); --require-mfa true|false turns its second-factor requirement on or off',
    usage: 'roles update NAME [--name NEW_NAME] [--description TEXT] [--resource URI [--scope SCOPE…]] [--require-mfa true|false] [--json]',
    options: {
      'require-mfa': { type: 'string', description: 'true or false: whether its users must sign in with a second factor' },
      name: { type: 'string', description: 'Its new name' },
      description: { type: 'string', description: 'Its new description' },
      ...PERMISSION_OPTIONS,
    },
    fields: { ...ROLE_FIELDS, name: '--name' },
    positional: 'NAME',
    async run({ api }, values, [name]) {
      const requireMfa = booleanFrom('require-mfa', values['require-mfa']);
      const current = await findRole(api, name);
      const onApi = permissionsFrom(values);
      const permissions = onApi
        ? [...current.permissions.filter((permission) => permission.resource !== onApi.resource), ...onApi.permissions]
        : undefined;
      const body = { name: text(values.name), description: text(values.description), permissions, require_mfa: requireMfa };
      return { record: (await api.call('patch', `/roles/${segment(current.id)}`, { body })) as Row };
    },
  },
  'roles delete': {
    summary: 'Delete a role (its users lose it; the built-in admin role cannot be deleted)',
    usage: 'roles delete NAME [--json]',
    options: {},
    positional: 'NAME',
    async run({ api }, _values, [name]) {
      const role = await findRole(api, name);
      await api.call('delete', `/roles/${segment(role.id)}`);
      return { record: { name, deleted: true } };
    },
  },
  'users roles set': {
    summary: "Replace a user's roles (--none takes them all)",
    usage: 'users roles set USER_ID (--role NAME… | --none) [--json]',
    options: {
      role: { type: 'string', multiple: true, description: 'A role to give (repeatable); the user ends with exactly these' },
      none: { type: 'boolean', description: 'Take all their roles' },
    },
    fields: { roles: '--role' },
    positional: 'USER_ID',
    async run({ api }, values, [userId]) {
      const names = list(values.role);
      if (names.length === 0 && !values.none) throw new UsageError('name the roles with --role, or take them all with --none');
      if (names.length > 0 && values.none) throw new UsageError('--role and --none do not go together');
      return { record: (await api.call('put', `/users/${segment(userId)}/roles`, { body: { roles: names } })) as Row };
    },
  },
  'clients grant': {
    summary: 'Let a client get tokens for an API with these scopes (added to what it has there); --default makes it the default_resource',
    usage: 'clients grant CLIENT_ID --resource URI [--scope SCOPE…] [--default] [--json]',
    options: {
      resource: { type: 'string', description: 'The API (resource URI) it may get tokens for (required)' },
      scope: { type: 'string', multiple: true, description: 'A scope of that API it may ask for (repeatable; added to those it has)' },
      default: { type: 'boolean', description: 'Make this API its default_resource (used when it names none)' },
    },
    fields: { api_access: '--resource/--scope', default_resource: '--resource' },
    positional: 'CLIENT_ID',
    async run({ api }, values, [clientId]) {
      const resource = text(values.resource);
      if (!resource) throw new UsageError('--resource is required');
      const path = `/clients/${segment(clientId)}`;
      const current = (await api.call('get', path)) as { api_access: { resource: string; scopes: string[] }[] };
      const existing = current.api_access.find((grant) => grant.resource === resource);
      const scopes = list(values.scope);
      const apiAccess = existing
        ? current.api_access.map((grant) => (grant === existing ? { resource, scopes: [...new Set([...grant.scopes, ...scopes])] } : grant))
        : [...current.api_access, { resource, scopes: [...new Set(scopes)] }];
      const body = { api_access: apiAccess, ...(values.default ? { default_resource: resource } : {}) };
      return { record: (await api.call('patch', path, { body })) as Row };
    },
  },
};
