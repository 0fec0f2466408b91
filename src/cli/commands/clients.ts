import { DEVICE_CODE_GRANT } from '../../clients/client-metadata.js';
import { fetchPages, segment } from '../admin-api.js';
import type { Row } from '../output.js';
import { list, PAGING_OPTIONS, pagingFrom, readJson, text, UsageError, type Command, type OptionValues } from './command.js';

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

const clientIdOption = { 'client-id': { type: 'string', description: 'The client_id (instead of the positional CLIENT_ID)' } } as const;

export const clientsCommands: Record<string, Command> = {
  'clients create': {
    summary: 'Register an OAuth client (RFC 7591 metadata)',
    usage:
      'clients create [--name NAME] [--redirect-uri URI…] [--post-logout-redirect-uri URI…] [--public] [--native] [--refresh-tokens] [--device] [--grant GRANT…] [--scope "A B"] [--default-resource URI] [--introspects URI…] [--auth-method METHOD] [--jwks-file FILE | --jwks-uri URI] [--client-id ID] [--require-mfa] [--json]',
    options: {
      name: { type: 'string', description: 'The name users see on the consent page' },
      'redirect-uri': {
        type: 'string',
        multiple: true,
        description: 'Where the code goes (repeat for several): https, or http on loopback, or a custom scheme with --native',
      },
      'post-logout-redirect-uri': { type: 'string', multiple: true, description: 'Where users may return after signing out (repeatable)' },
      public: { type: 'boolean', description: 'A public client (SPA, native app, CLI): no secret, token_endpoint_auth_method none' },
      native: { type: 'boolean', description: 'application_type native (custom-scheme and loopback redirect URIs)' },
      'refresh-tokens': { type: 'boolean', description: 'Add the refresh_token grant' },
      device: { type: 'boolean', description: 'Add the device grant (RFC 8628); without --redirect-uri, a device-only client' },
      grant: {
        type: 'string',
        multiple: true,
        description:
          'A grant type (repeatable): authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code (default authorization_code)',
      },
      scope: {
        type: 'string',
        description: 'The OpenID scopes it may ask for, space-separated (e.g. "openid profile email offline_access")',
      },
      'default-resource': { type: 'string', description: 'The API (resource URI) its tokens are for when it names none' },
      introspects: { type: 'string', multiple: true, description: 'An API whose tokens it may introspect (repeatable)' },
      'auth-method': {
        type: 'string',
        description: 'How it authenticates: client_secret_basic (default), client_secret_post, private_key_jwt, none',
      },
      'jwks-file': { type: 'string', description: 'A file with its public keys as a JWK Set (for private_key_jwt)' },
      'jwks-uri': { type: 'string', description: 'Where its public keys are published (for private_key_jwt)' },
      'client-id': { type: 'string', description: 'Choose the client_id (default: 128 random bits)' },
      'require-mfa': { type: 'boolean', description: 'Users signing in to it must use a second factor' },
    },
    fields: {
      client_id: '--client-id',
      client_name: '--name',
      application_type: '--native',
      redirect_uris: '--redirect-uri',
      post_logout_redirect_uris: '--post-logout-redirect-uri',
      grant_types: '--grant',
      token_endpoint_auth_method: '--auth-method',
      scope: '--scope',
      default_resource: '--default-resource',
      introspection_resources: '--introspects',
      jwks: '--jwks-file',
      jwks_uri: '--jwks-uri',
      require_mfa: '--require-mfa',
    },
    async run({ api }, values) {
      const jwksFile = text(values['jwks-file']);
      const metadata = {
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
      // The admin API validates the whole object (grant names, auth method, keys).
      const client = (await api.call('post', '/clients', { body: metadata })) as Row;
      return { record: client, note: client.client_secret ? SECRET_NOTE : undefined };
    },
  },

  'clients update': {
    summary: "Change a client's name, redirect and logout URIs, grants, OpenID scopes or APIs (a list given replaces the old one)",
    usage:
      'clients update CLIENT_ID [--name NAME] [--redirect-uri URI…] [--post-logout-redirect-uri URI…] [--grant GRANT…] [--scope "A B"] [--default-resource URI|""] [--introspects URI…] [--json]',
    options: {
      name: { type: 'string', description: 'The name users see on the consent page' },
      'redirect-uri': { type: 'string', multiple: true, description: 'The redirect URIs, all of them (repeatable; replaces the list)' },
      'post-logout-redirect-uri': {
        type: 'string',
        multiple: true,
        description: 'The post-logout redirect URIs, all of them (repeatable; replaces the list)',
      },
      grant: {
        type: 'string',
        multiple: true,
        description:
          'The grant types, all of them (repeatable): authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code',
      },
      scope: { type: 'string', description: 'The OpenID scopes it may ask for, space-separated' },
      'default-resource': { type: 'string', description: 'The API its tokens are for when it names none ("" for none)' },
      introspects: { type: 'string', multiple: true, description: 'The APIs whose tokens it may introspect, all of them (repeatable)' },
    },
    fields: {
      client_name: '--name',
      redirect_uris: '--redirect-uri',
      post_logout_redirect_uris: '--post-logout-redirect-uri',
      grant_types: '--grant',
      scope: '--scope',
      default_resource: '--default-resource',
      introspection_resources: '--introspects',
    },
    positional: 'CLIENT_ID',
    async run({ api }, values, [clientId]) {
      const changes: Record<string, unknown> = {};
      if (values.name !== undefined) changes.client_name = text(values.name);
      if (values['redirect-uri'] !== undefined) changes.redirect_uris = list(values['redirect-uri']);
      if (values['post-logout-redirect-uri'] !== undefined) changes.post_logout_redirect_uris = list(values['post-logout-redirect-uri']);
      if (values.grant !== undefined) changes.grant_types = list(values.grant);
      if (values.scope !== undefined) changes.scope = text(values.scope);
      // An empty value removes it (null: RFC 7396).
      if (values['default-resource'] !== undefined) changes.default_resource = text(values['default-resource']) || null;
      if (values.introspects !== undefined) changes.introspection_resources = list(values.introspects);
      if (Object.keys(changes).length === 0) throw new UsageError('name something to change (see --help)');
      return { record: (await api.call('patch', `/clients/${segment(clientId)}`, { body: changes })) as Row };
    },
  },

  'clients rotate-secret': {
    summary: "Replace a client's secret (the old one stops working at every instance)",
    usage: 'clients rotate-secret CLIENT_ID [--json]',
    options: clientIdOption,
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ api }, _values, [clientId]) {
      return { record: (await api.call('post', `/clients/${segment(clientId)}/secret`)) as Row, note: SECRET_NOTE };
    },
  },

  'clients delete': {
    summary: 'Delete a client (it stops authenticating at every instance; its tokens introspect as inactive)',
    usage: 'clients delete CLIENT_ID [--json]',
    options: clientIdOption,
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ api }, _values, [clientId]) {
      await api.call('delete', `/clients/${segment(clientId)}`);
      return { record: { client_id: clientId, deleted: true } };
    },
  },

  'clients list': {
    summary: 'List clients',
    usage: 'clients list [--search TEXT] [--limit N] [--cursor CURSOR | --all] [--json]',
    options: {
      search: { type: 'string', description: 'Only clients whose client_id or name contains this, in any case' },
      ...PAGING_OPTIONS,
    },
    fields: { search: '--search' },
    async run({ api }, values) {
      const { rows, nextCursor } = await fetchPages(api, '/clients', { search: text(values.search) }, pagingFrom(values));
      return { rows, nextCursor, columns: ['client_id', 'client_name', 'grant_types', 'token_endpoint_auth_method', 'created_at'] };
    },
  },

  'clients show': {
    summary: "Show a client's metadata (never its secret)",
    usage: 'clients show CLIENT_ID [--json]',
    options: clientIdOption,
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ api }, _values, [clientId]) {
      return { record: (await api.call('get', `/clients/${segment(clientId)}`)) as Row };
    },
  },
};
