import { presentResource } from '../../admin/resources/presenter.js';
import { limitFrom, list, text, UsageError, type Command } from './command.js';

export const resourcesCommands: Record<string, Command> = {
  'resources create': {
    summary: 'Register an API (RFC 8707 resource) that access tokens can be issued for',
    usage: 'resources create --identifier URI --name NAME [--scope SCOPE…] [--ttl SECONDS] [--json]',
    options: {
      identifier: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string', multiple: true },
      ttl: { type: 'string' },
    },
    async run({ resources }, values) {
      const ttl = text(values.ttl);
      if (ttl !== undefined && !/^\d+$/.test(ttl)) throw new UsageError('--ttl must be a number of seconds');
      const resource = await resources.createResource({
        identifier: text(values.identifier) ?? '',
        name: text(values.name) ?? '',
        scopes: list(values.scope),
        ...(ttl ? { access_token_ttl: Number(ttl) } : {}),
      });
      return { record: presentResource(resource) };
    },
  },

  'resources list': {
    summary: 'List APIs',
    usage: 'resources list [--limit N] [--json]',
    options: { limit: { type: 'string' } },
    async run({ resources }, values) {
      const { resources: found } = await resources.listResources({ limit: limitFrom(values) });
      return { rows: found.map(presentResource) };
    },
  },
};
