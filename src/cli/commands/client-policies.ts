import { presentClient } from '../../admin/clients/presenter.js';
import type { ClientMetadataInput } from '../../clients/client-metadata.js';
import { CLI_ACTOR, UsageError, type Command } from './command.js';

/** CLI flag → client metadata field, for the per-client policies `clients set` changes. */
const BOOLEAN_POLICIES = {
  'require-pkce': 'require_pkce',
  'first-party': 'first_party',
  'backchannel-logout-session-required': 'backchannel_logout_session_required',
  'require-par': 'require_pushed_authorization_requests',
  'dpop-bound': 'dpop_bound_access_tokens',
} as const;

function booleanFrom(flag: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UsageError(`--${flag} takes true or false`);
}

export const clientPolicyCommands: Record<string, Command> = {
  'clients set': {
    summary:
      "Change a client's policies: PKCE, first-party consent, back-channel logout, PAR, DPoP (the same checks as PATCH /admin/clients/:id)",
    usage:
      'clients set CLIENT_ID [--require-pkce true|false] [--first-party true|false] [--backchannel-logout-uri URI|""] [--backchannel-logout-session-required true|false] [--require-par true|false] [--dpop-bound true|false] [--json]',
    options: {
      ...Object.fromEntries(Object.keys(BOOLEAN_POLICIES).map((flag) => [flag, { type: 'string' as const }])),
      'backchannel-logout-uri': { type: 'string' },
    },
    positional: 'CLIENT_ID',
    async run({ clients }, values, positionals) {
      const [clientId = ''] = positionals;
      const changes: Record<string, unknown> = {};
      for (const [flag, field] of Object.entries(BOOLEAN_POLICIES)) {
        const value = booleanFrom(flag, values[flag]);
        if (value !== undefined) changes[field] = value;
      }
      const uri = values['backchannel-logout-uri'];
      // An empty value removes the URI.
      if (typeof uri === 'string') changes.backchannel_logout_uri = uri === '' ? undefined : uri;
      if (Object.keys(changes).length === 0) throw new UsageError('name at least one policy to change');
      const client = await clients.updateClient(clientId, changes as Partial<Omit<ClientMetadataInput, 'client_id'>>, CLI_ACTOR);
      return { record: presentClient(client) };
    },
  },
};
