import { readFile } from 'node:fs/promises';
import { deriveSecrets } from '../config/master-secret.js';
import { reencryptSigningKeys } from '../keys/signing-keys.js';
import { DEVICE_CODE_GRANT, type ClientMetadataInput } from '../clients/client-metadata.js';
import { AppError } from '../http/errors.js';
import type { CliContext } from './context.js';
import type { Row } from './output.js';
import { rolesCommands } from './commands/roles.js';

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  /** The name of the one positional argument the command takes, if any (e.g. an id). */
  readonly positional?: string;
  /** The positional may be given as this option instead (kept for scripts that use it). */
  readonly positionalOption?: string;
  /** A record prints as "key value" lines, rows as a table; both as JSON with --json. */
  run(
    context: CliContext,
    values: Record<string, string | boolean | string[] | undefined>,
    positionals: string[],
  ): Promise<{ record?: Row; rows?: Row[]; note?: string }>;
}

/** Changes made from the CLI are audited as the operator's. */
export const CLI_ACTOR = { actor: 'cli' } as const;

const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);


/**
 * --grant as given, else authorization_code (none for a device-only client:
 * --device without --redirect-uri); --device and --refresh-tokens add theirs.
 */
function grantTypes(values: Record<string, unknown>): string[] {
  const explicit = list(values.grant);
  const deviceOnly = Boolean(values.device) && list(values['redirect-uri']).length === 0;
  const grants = new Set(explicit.length ? explicit : deviceOnly ? [] : ['authorization_code']);
  if (values.device) grants.add(DEVICE_CODE_GRANT);
  if (values['refresh-tokens']) grants.add('refresh_token');
  return [...grants];
}

export const commands: Record<string, Command> = {
  'clients create': {
    summary: 'Register an OAuth client (RFC 7591 metadata)',
    usage: 'clients create --name NAME [--redirect-uri URI…] [--post-logout-redirect-uri URI…] [--public] [--native] [--refresh-tokens] [--device] [--grant GRANT…] [--scope "A B"] [--default-resource URI] [--introspects URI…] [--auth-method METHOD] [--jwks-file FILE | --jwks-uri URI] [--client-id ID] [--json]',
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
      };
      // Zod validates the whole object (grant names, auth method, keys) in registerClient.
      const client = await clients.registerClient(metadata as ClientMetadataInput, CLI_ACTOR);
      return { record: { ...client }, note: client.client_secret ? 'Store the client_secret now: it is not shown again.' : undefined };
    },
  },

  'clients rotate-secret': {
    summary: "Replace a client's secret (the old one stops working at every instance)",
    usage: 'clients rotate-secret CLIENT_ID [--json]',
    options: { 'client-id': { type: 'string' } },
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ clients }, _values, positionals) {
      const [clientId = ''] = positionals;
      const rotated = await clients.rotateClientSecret(clientId, CLI_ACTOR);
      return { record: { ...rotated }, note: 'Store the client_secret now: it is not shown again.' };
    },
  },

  'clients delete': {
    summary: 'Delete a client (it stops authenticating at every instance; its tokens introspect as inactive)',
    usage: 'clients delete CLIENT_ID [--json]',
    options: { 'client-id': { type: 'string' } },
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ clients }, _values, positionals) {
      const [clientId = ''] = positionals;
      await clients.deleteClient(clientId, CLI_ACTOR);
      return { record: { client_id: clientId, deleted: true } };
    },
  },

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
    async run({ users }, values) {
      const email = text(values.email);
      const password = values['password-stdin'] ? await readStdin() : text(values.password);
      if (!email || !password) throw new UsageError('--email and a password (--password-stdin or --password) are required');
      const roles = text(values.roles)?.split(',').map((role) => role.trim()).filter(Boolean) ?? [];
      const user = await users.createUser({ email, password, name: text(values.name), roles, emailVerified: Boolean(values['email-verified']) }, CLI_ACTOR);
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

Object.assign(commands, {
  'clients list': {
    summary: 'List clients',
    usage: 'clients list [--limit N] [--json]',
    options: { limit: { type: 'string' } },
    async run({ clients }, values) {
      const { clients: found } = await clients.listClients({ limit: limitFrom(values) });
      return {
        rows: found.map((client) => ({
          client_id: client.client_id,
          client_name: client.client_name,
          grant_types: client.grant_types,
          auth_method: client.token_endpoint_auth_method,
          created_at: client.created_at,
        })),
      };
    },
  },
  'clients show': {
    summary: "Show a client's metadata (never its secret)",
    usage: 'clients show CLIENT_ID [--json]',
    options: { 'client-id': { type: 'string' } },
    positional: 'CLIENT_ID',
    positionalOption: 'client-id',
    async run({ clients }, _values, positionals) {
      const [clientId = ''] = positionals;
      const client = await clients.getClient(clientId);
      if (!client) throw new AppError(404, 'not_found', `no client ${clientId}`);
      return { record: { ...client } };
    },
  },
  'resources list': {
    summary: 'List APIs',
    usage: 'resources list [--limit N] [--json]',
    options: { limit: { type: 'string' } },
    async run({ resources }, values) {
      const { resources: found } = await resources.listResources({ limit: limitFrom(values) });
      return { rows: found.map((resource) => ({ id: resource.id, identifier: resource.identifier, name: resource.name, scopes: resource.scopes.map((scope) => scope.name), access_token_ttl: resource.accessTokenTtl })) };
    },
  },
  'users list': {
    summary: 'List users',
    usage: 'users list [--email EMAIL] [--limit N] [--json]',
    options: { email: { type: 'string' }, limit: { type: 'string' } },
    async run({ users }, values) {
      const { users: found } = await users.listUsers({ email: text(values.email), limit: limitFrom(values) });
      return { rows: found.map((user) => ({ id: user.id, email: user.email, name: user.name, roles: user.roles, disabled: user.disabled })) };
    },
  },
  'users disable': {
    summary: 'Disable a user and end their sessions (--enable to undo)',
    usage: 'users disable ID [--enable] [--json]',
    options: { enable: { type: 'boolean' } },
    positional: 'ID',
    async run({ users }, values, [id]) {
      const user = await users.setUserDisabled(id ?? '', !values.enable, CLI_ACTOR);
      return { record: { id: user.id, email: user.email, disabled: user.disabled } };
    },
  },
  'users delete': {
    summary: 'Delete a user and end their sessions',
    usage: 'users delete ID [--json]',
    options: {},
    positional: 'ID',
    async run({ users }, _values, [id]) {
      await users.deleteUser(id ?? '', CLI_ACTOR);
      return { record: { id, deleted: true } };
    },
  },
  'keys list': {
    summary: 'List signing keys (public information only)',
    usage: 'keys list [--json]',
    options: {},
    async run({ keys }) {
      return { rows: (await keys.list()).map((key) => ({ kid: key.kid, alg: key.alg, status: key.status, created_at: key.createdAt, activated_at: key.activatedAt, retired_at: key.retiredAt })) };
    },
  },
  'keys rotate': {
    summary: 'Rotate now: next becomes current, current retires, a new next is published',
    usage: 'keys rotate [--json]',
    options: {},
    async run({ keys }) {
      const result = await keys.rotate(CLI_ACTOR);
      return { record: { promoted: result.promoted, retired: result.retired, created: result.created, removed: result.removed } };
    },
  },
  'keys re-encrypt': {
    summary: 'After changing GATEHOUSE_SECRET: re-encrypt the private keys sealed under the old secret',
    usage: 'keys re-encrypt --old-secret-file PATH [--json]   (GATEHOUSE_SECRET holds the new secret)',
    options: { 'old-secret-file': { type: 'string' } },
    async run({ prisma, keyEncryptionKey }, values) {
      const file = text(values['old-secret-file']);
      if (!file) throw new UsageError('--old-secret-file is required');
      const oldSecret = (await readFile(file, 'utf8')).trim();
      const count = await reencryptSigningKeys(prisma, deriveSecrets(oldSecret).keyEncryptionKey, keyEncryptionKey);
      return { record: { re_encrypted: count }, note: 'Client secrets and signed-in sessions do not carry over to a new secret: rotate client secrets and expect users to sign in again.' };
    },
  },
} satisfies Record<string, Command>);

function limitFrom(values: Record<string, unknown>): number {
  const limit = Number(text(values.limit) ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be 1 to 1000');
  return limit;
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read JSON from ${path}: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export class UsageError extends Error {
  override name = 'UsageError';
}

Object.assign(commands, rolesCommands);
