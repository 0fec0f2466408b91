import { readFile } from 'node:fs/promises';
import type { ClientMetadataInput } from '../clients/client-metadata.js';
import type { CliContext } from './context.js';
import type { Row } from './output.js';

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  run(context: CliContext, values: Record<string, string | boolean | string[] | undefined>): Promise<{ record: Row; note?: string }>;
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

export const commands: Record<string, Command> = {
  'clients create': {
    summary: 'Register an OAuth client (RFC 7591 metadata)',
    usage: 'clients create --name NAME [--redirect-uri URI…] [--post-logout-redirect-uri URI…] [--public] [--native] [--refresh-tokens] [--grant GRANT…] [--scope "A B"] [--default-resource URI] [--introspects URI…] [--auth-method METHOD] [--jwks-file FILE | --jwks-uri URI] [--client-id ID] [--json]',
    options: {
      name: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      'post-logout-redirect-uri': { type: 'string', multiple: true },
      public: { type: 'boolean' },
      native: { type: 'boolean' },
      'refresh-tokens': { type: 'boolean' },
      grant: { type: 'string', multiple: true },
      scope: { type: 'string' },
      'default-resource': { type: 'string' },
      introspects: { type: 'string', multiple: true },
      'auth-method': { type: 'string' },
      'jwks-file': { type: 'string' },
      'jwks-uri': { type: 'string' },
      'client-id': { type: 'string' },
    },
    async run({ clients }, values) {
      const grants = new Set(list(values.grant).length ? list(values.grant) : ['authorization_code']);
      if (values['refresh-tokens']) grants.add('refresh_token');
      const jwksFile = text(values['jwks-file']);
      const metadata: Record<string, unknown> = {
        client_id: text(values['client-id']),
        client_name: text(values.name),
        application_type: values.native ? 'native' : 'web',
        redirect_uris: list(values['redirect-uri']),
        post_logout_redirect_uris: list(values['post-logout-redirect-uri']),
        grant_types: [...grants],
        token_endpoint_auth_method: values.public ? 'none' : (text(values['auth-method']) ?? 'client_secret_basic'),
        scope: text(values.scope),
        default_resource: text(values['default-resource']),
        introspection_resources: list(values.introspects).length ? list(values.introspects) : undefined,
        jwks: jwksFile ? await readJson(jwksFile) : undefined,
        jwks_uri: text(values['jwks-uri']),
      };
      // Zod validates the whole object (grant names, auth method, keys) in registerClient.
      const client = await clients.registerClient(metadata as ClientMetadataInput);
      return { record: { ...client }, note: client.client_secret ? 'Store the client_secret now: it is not shown again.' : undefined };
    },
  },

  'clients rotate-secret': {
    summary: "Replace a client's secret (the old one stops working at every instance)",
    usage: 'clients rotate-secret --client-id ID [--json]',
    options: { 'client-id': { type: 'string' } },
    async run({ clients }, values) {
      const clientId = text(values['client-id']);
      if (!clientId) throw new UsageError('--client-id is required');
      const rotated = await clients.rotateClientSecret(clientId);
      return { record: { ...rotated }, note: 'Store the client_secret now: it is not shown again.' };
    },
  },

  'clients delete': {
    summary: 'Delete a client (it stops authenticating at every instance; its tokens introspect as inactive)',
    usage: 'clients delete --client-id ID [--json]',
    options: { 'client-id': { type: 'string' } },
    async run({ clients }, values) {
      const clientId = text(values['client-id']);
      if (!clientId) throw new UsageError('--client-id is required');
      await clients.deleteClient(clientId);
      return { record: { client_id: clientId, deleted: true } };
    },
  },

  'users create': {
    summary: 'Create a user',
    usage: 'users create --email EMAIL --password PASSWORD [--name NAME] [--roles a,b] [--email-verified] [--json]',
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      name: { type: 'string' },
      roles: { type: 'string' },
      'email-verified': { type: 'boolean' },
    },
    async run({ users }, values) {
      const email = text(values.email);
      const password = text(values.password);
      if (!email || !password) throw new UsageError('--email and --password are required');
      const roles = text(values.roles)?.split(',').map((role) => role.trim()).filter(Boolean) ?? [];
      const user = await users.createUser({ email, password, name: text(values.name), roles, emailVerified: Boolean(values['email-verified']) });
      return { record: { id: user.id, email: user.email, name: user.name, roles: user.roles, email_verified: user.emailVerified } };
    },
  },

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
      return {
        record: {
          id: resource.id,
          identifier: resource.identifier,
          name: resource.name,
          scopes: resource.scopes.map((scope) => scope.name),
          access_token_ttl: resource.accessTokenTtl,
        },
      };
    },
  },
};

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read JSON from ${path}: ${(error as Error).message}`);
  }
}

export class UsageError extends Error {
  override name = 'UsageError';
}
