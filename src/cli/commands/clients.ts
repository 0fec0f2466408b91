import { presentClient, presentRegisteredClient } from '../../admin/clients/presenter.js';
import { DEVICE_CODE_GRANT, type ClientMetadataInput } from '../../clients/client-metadata.js';
import { AppError } from '../../http/errors.js';
import { CLI_ACTOR, limitFrom, list, readJson, text, type Command, type OptionValues } from './command.js';

/**
 * --grant as given, else authorization_code (none for a device-only client:
 * --device without --redirect-uri); --device and --refresh-tokens add theirs.
 */
function grantTypes(values: OptionValues): string[] {
  const explicit = list(values.grant);
  const deviceOnly = Boolean(values.device) && list(values['redirect-uri']).length === 0;
  const grants = new Set(explicit.length ? explicit : deviceOnly ? [] : ['authorization_code']);
  if (values.device) grants.add(DEVICE_CODE_GRANT);
  if (values['refresh-tokens']) grants.add('refresh_token');
  return [...grants];
}

const SECRET_NOTE = 'Store the client_secret now: it is not shown again.';

export const clientsCommands: Record<string, Command> = {
  'clients create': {
    summary: 'Register an OAuth client (RFC 7591 metadata)',
    usage:
      'clients create --name NAME [--redirect-uri URI…] [--post-logout-redirect-uri URI…] [--public] [--native] [--refresh-tokens] [--device] [--grant GRANT…] [--scope "A B"] [--default-resource URI] [--introspects URI…] [--auth-method METHOD] [--jwks-file FILE | --jwks-uri URI] [--client-id ID] [--require-mfa] [--json]',
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      public: { type: 'boolean' },
      native: { type: 'boolean' },
      'refresh-tokens': { type: 'boolean' },
      /** RFC 8628 device grant; without --redirect-uri, a device-only client. */
      device: { type: 'boolean' },
      grant: { type: 'string', multiple: true },
      scope: { type: 'string' },
      'default-resource': { type: 'string' },
      introspects: { type: 'string', multiple: true },
      'auth-method': { type: 'string' },
      'jwks-file': { type: 'string' },
      'jwks-uri': { type: 'string' },
      'client-id': { type: 'string' },
      'require-mfa': { type: 'boolean' },
    },
    async run({ clients }, values) {
      const jwksFile = text(values['jwks-file']);
      const metadata: Record<string, unknown> = {
        client_id: text(values['client-id']),
        client_name: text(values.name),
        application_type: values.native ? 'native' : 'web',
        redirect_uris: list(values['redirect-uri']),
        post_logout_redirect_uris: list(values['post-logout-redirect-uri']),
        grant_types: grantTypes(values),
        token_endpoint_auth_method: values.public ? 'none' : (text(values['auth-method']) ?? 'client_secret_basic'),
        scope: text(values.scope),
        default_resource: text(values['default-resource']),
        introspection_resources: list(values.introspects).length ? list(values.introspects) : undefined,
        jwks: jwksFile ? await readJson(jwksFile) : undefined,
        jwks_uri: text(values['jwks-uri']),
        require_mfa: values['require-mfa'] ? true : undefined,
      };
      // Zod validates the whole object (grant names, auth method, keys) in registerClient.
      const client = await clients.registerClient(metadata as ClientMetadataInput, CLI_ACTOR);
      return { record: presentRegisteredClient(client), note: client.client_secret ? SECRET_NOTE : undefined };
    },
  },

  'clients rotate-secret': {
    summary: "Replace a client's secret (the old one stops working at every instance)",
    usage: 'clients rotate-secret CLIENT_ID [--json]',
    options: { 'client-id': { type: 'string' } },
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ clients }, _values, [clientId = '']) {
      return { record: { ...(await clients.rotateClientSecret(clientId, CLI_ACTOR)) }, note: SECRET_NOTE };
    },
  },

  'clients delete': {
    summary: 'Delete a client (it stops authenticating at every instance; its tokens introspect as inactive)',
    usage: 'clients delete CLIENT_ID [--json]',
    options: { 'client-id': { type: 'string' } },
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ clients }, _values, [clientId = '']) {
      await clients.deleteClient(clientId, CLI_ACTOR);
      return { record: { client_id: clientId, deleted: true } };
    },
  },

  'clients list': {
    summary: 'List clients',
    usage: 'clients list [--limit N] [--json]',
    options: { limit: { type: 'string' } },
    async run({ clients }, values) {
      const { clients: found } = await clients.listClients({ limit: limitFrom(values) });
      return {
        rows: found.map(presentClient),
        columns: ['client_id', 'client_name', 'grant_types', 'token_endpoint_auth_method', 'created_at'],
      };
    },
  },

  'clients show': {
    summary: "Show a client's metadata (never its secret)",
    usage: 'clients show CLIENT_ID [--json]',
    options: { 'client-id': { type: 'string' } },
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ clients }, _values, [clientId = '']) {
      const client = await clients.getClient(clientId);
      if (!client) throw new AppError(404, 'not_found', `no client ${clientId}`);
      return { record: presentClient(client) };
    },
  },
};
