import { AppError } from '../../http/errors.js';
import { fetchPages, segment, type AdminApi } from '../admin-api.js';
import type { Row } from '../output.js';
import {
  booleanFrom,
  list,
  PAGING_OPTIONS,
  pagingFrom,
  secondsFrom,
  text,
  UsageError,
  type Command,
  type OptionValues,
} from './command.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An API by its id, or by its identifier (the resource URI), which is what operators remember. */
async function resourceId(api: AdminApi, idOrIdentifier: string | undefined): Promise<string> {
  const wanted = idOrIdentifier ?? '';
  if (UUID.test(wanted)) return wanted;
  const { rows } = await fetchPages(api, '/resources', {}, { all: true });
  const found = rows.find((resource) => resource.identifier === wanted);
  if (!found) throw new AppError(404, 'not_found', `no API ${wanted}`);
  return String(found.id);
}

/** `--scope NAME` or `--scope "NAME=What it allows"` (the description users see on the consent page). */
const scopesFrom = (values: OptionValues) =>
  list(values.scope).map((scope) => {
    const [name = '', ...description] = scope.split('=');
    return description.length ? { name, description: description.join('=') } : name;
  });

const API_OPTIONS = {
  name: { type: 'string', description: 'Its name, shown to admins' },
  scope: {
    type: 'string',
    multiple: true,
    description: 'A scope it defines, NAME or "NAME=Description" (repeatable; on update, the new full list)',
  },
  ttl: { type: 'string', description: 'Access token lifetime: seconds or 30s, 15m, 12h, 1d (30 s to 1 day; default 10m)' },
  rbac: { type: 'string', description: 'on or off: user tokens carry only the scopes the user holds through roles' },
  'permissions-claim': { type: 'string', description: 'true or false: with rbac, user tokens carry a permissions array' },
} as const;

const API_FIELDS = {
  identifier: '--identifier',
  name: '--name',
  scopes: '--scope',
  access_token_ttl: '--ttl',
  rbac: '--rbac',
  permissions_claim: '--permissions-claim',
};

/** The fields --name, --scope, --ttl, --rbac, --permissions-claim set (only those given). */
function apiFields(values: OptionValues): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (values.name !== undefined) fields.name = text(values.name);
  if (values.scope !== undefined) fields.scopes = scopesFrom(values);
  const ttl = secondsFrom('ttl', values.ttl, 86400);
  if (ttl !== undefined) fields.access_token_ttl = ttl;
  const rbac = text(values.rbac);
  if (rbac !== undefined && rbac !== 'on' && rbac !== 'off') throw new UsageError(`--rbac takes on or off (got "${rbac}")`);
  if (rbac !== undefined) fields.rbac = rbac;
  const claim = booleanFrom('permissions-claim', values['permissions-claim']);
  if (claim !== undefined) fields.permissions_claim = claim;
  return fields;
}

export const resourcesCommands: Record<string, Command> = {
  'resources create': {
    summary: 'Register an API (RFC 8707 resource) that access tokens can be issued for',
    usage:
      'resources create --identifier URI --name NAME [--scope SCOPE…] [--ttl DURATION] [--rbac on|off] [--permissions-claim true|false] [--json]',
    options: {
      identifier: {
        type: 'string',
        description: 'The resource URI clients ask for and tokens carry as audience, e.g. https://api.example.com/ (required)',
      },
      ...API_OPTIONS,
    },
    fields: API_FIELDS,
    async run({ api }, values) {
      const body = { identifier: text(values.identifier) ?? '', name: text(values.name) ?? '', scopes: [], ...apiFields(values) };
      return { record: (await api.call('post', '/resources', { body })) as Row };
    },
  },

  'resources list': {
    summary: 'List APIs',
    usage: 'resources list [--limit N] [--cursor CURSOR | --all] [--json]',
    options: PAGING_OPTIONS,
    async run({ api }, values) {
      return fetchPages(api, '/resources', {}, pagingFrom(values));
    },
  },

  'resources show': {
    summary: 'Show an API (by id or identifier)',
    usage: 'resources show ID|IDENTIFIER [--json]',
    options: {},
    positional: 'ID|IDENTIFIER',
    async run({ api }, _values, [id]) {
      return { record: (await api.call('get', `/resources/${segment(await resourceId(api, id))}`)) as Row };
    },
  },

  'resources update': {
    summary: "Change an API's name, scopes, token lifetime or RBAC settings (not its identifier)",
    usage:
      'resources update ID|IDENTIFIER [--name NAME] [--scope SCOPE…] [--ttl DURATION] [--rbac on|off] [--permissions-claim true|false] [--json]',
    options: API_OPTIONS,
    fields: API_FIELDS,
    positional: 'ID|IDENTIFIER',
    async run({ api }, values, [id]) {
      const changes = apiFields(values);
      if (Object.keys(changes).length === 0)
        throw new UsageError('name something to change: --name, --scope, --ttl, --rbac or --permissions-claim');
      return { record: (await api.call('patch', `/resources/${segment(await resourceId(api, id))}`, { body: changes })) as Row };
    },
  },

  'resources delete': {
    summary: 'Delete an API (clients lose their access to it)',
    usage: 'resources delete ID|IDENTIFIER [--json]',
    options: {},
    positional: 'ID|IDENTIFIER',
    async run({ api }, _values, [id]) {
      const resolved = await resourceId(api, id);
      await api.call('delete', `/resources/${segment(resolved)}`);
      return { record: { id: resolved, deleted: true } };
    },
  },
};
