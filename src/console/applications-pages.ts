import type { z } from 'zod';
import type { clientPage, clientSecretView, clientView, registeredClientView } from '../admin/clients/schema.js';
import { DEVICE_CODE_GRANT, CLIENT_OIDC_SCOPES } from '../clients/client-metadata.js';
import type { ResourceService } from '../clients/resources.js';
import { describeError } from '../http/error-renderer.js';
import { AppError } from '../http/errors.js';
import { showDate } from './console-format.js';
import type { ConsoleOperations } from './console-operations.js';
import { CONSOLE_CLIENT_ID } from './console-client.js';
import { field, fields, lines, sentence, type ConsoleArea, type ConsolePage } from './console-routes.js';
import { ACCOUNT_CLIENT_ID } from '../account/account-routes.js';

/**
 * Clients Gatehouse registers for its own pages, with a secret derived from
 * the master secret: changing one here would lock the console or the account
 * page out until the next start, so the console shows them read-only.
 */
const OWN_PAGE_CLIENTS: readonly string[] = [CONSOLE_CLIENT_ID, ACCOUNT_CLIENT_ID];

type Client = z.infer<typeof clientView>;

/** The kinds of application the console creates, with the metadata each starts from and what it is for. */
export const APPLICATION_TYPES = {
  web: {
    label: 'Web application',
    help: 'A server-side app (Node, Python, PHP, Java…) that can keep a secret. Users sign in with the authorization code flow and PKCE; the app gets a client secret.',
    redirects: true,
    metadata: {
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  },
  spa: {
    label: 'Single-page app',
    help: 'Runs in the browser (React, Vue, Angular…). It cannot keep a secret, so it is a public client that signs in with the authorization code flow and PKCE.',
    redirects: true,
    metadata: { application_type: 'web', grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' },
  },
  native: {
    label: 'Native app',
    help: 'A mobile or desktop app: a public client with PKCE. Redirect URIs may use a reverse-domain scheme (com.example.app:/callback) or loopback http (RFC 8252).',
    redirects: true,
    metadata: { application_type: 'native', grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' },
  },
  service: {
    label: 'Service (machine to machine)',
    help: 'A backend, script or scheduled job that calls your APIs as itself with client credentials. No user signs in; it gets a client secret.',
    redirects: false,
    metadata: { application_type: 'web', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' },
  },
  device: {
    label: 'Device (TV, command line)',
    help: 'A device without a browser or keyboard: it shows a short code, and the user approves it on their phone or computer (RFC 8628 device flow).',
    redirects: false,
    metadata: { application_type: 'native', grant_types: [DEVICE_CODE_GRANT, 'refresh_token'], token_endpoint_auth_method: 'none' },
  },
} as const;

type ApplicationType = keyof typeof APPLICATION_TYPES;
const isApplicationType = (value: string): value is ApplicationType => Object.hasOwn(APPLICATION_TYPES, value);

/** What kind of application a registered client is, from its metadata. */
export function applicationTypeOf(
  client: Pick<Client, 'grant_types' | 'token_endpoint_auth_method' | 'application_type'>,
): ApplicationType {
  if (client.grant_types.includes(DEVICE_CODE_GRANT)) return 'device';
  if (!client.grant_types.includes('authorization_code') && client.grant_types.includes('client_credentials')) return 'service';
  if (client.token_endpoint_auth_method === 'none') return client.application_type === 'native' ? 'native' : 'spa';
  return 'web';
}

const GRANTS = [
  { value: 'authorization_code', label: 'Authorization code (users sign in in a browser)' },
  { value: 'refresh_token', label: 'Refresh token (stay signed in)' },
  { value: 'client_credentials', label: 'Client credentials (the app as itself; confidential apps only)' },
  { value: DEVICE_CODE_GRANT, label: 'Device code (devices without a browser)' },
];

const LABELS: Record<string, string> = {
  client_name: 'Name',
  redirect_uris: 'Redirect URIs',
  post_logout_redirect_uris: 'Logout URIs',
  grant_types: 'Grants',
  api_access: 'API access',
  require_pkce: 'PKCE',
  backchannel_logout_uri: 'Back-channel logout URI',
  scope: 'OpenID scopes',
};

export interface ApplicationPagesDependencies {
  readonly operations: ConsoleOperations;
  readonly resources: ResourceService;
}

/** /console/applications: list and search, create by type, edit, rotate the secret, delete. */
export function applicationPages(deps: ApplicationPagesDependencies): ConsoleArea {
  const { operations } = deps;
  const load = (page: ConsolePage, id: string) => operations.run<Client>('getClient', page.admin, { params: { id } });
  const loadChangeable = async (page: ConsolePage, id: string) => {
    const client = await load(page, id);
    if (OWN_PAGE_CLIENTS.includes(client.client_id)) {
      throw new AppError(403, 'forbidden', `${client.client_id} is used by Gatehouse's own pages and is not changed from the console`);
    }
    return client;
  };

  const renderList = async (page: ConsolePage, message: { notice?: string } = {}) => {
    const search = typeof page.ctx.query.search === 'string' ? page.ctx.query.search : '';
    const cursor = typeof page.ctx.query.cursor === 'string' ? page.ctx.query.cursor : undefined;
    const found = await operations.run<z.infer<typeof clientPage>>('listClients', page.admin, {
      query: { limit: '25', ...(search ? { search } : {}), ...(cursor ? { cursor } : {}) },
    });
    page.render('applications', {
      title: 'Applications',
      area: '/console/applications',
      search,
      canWrite: operations.allows(page.admin, 'registerClient'),
      applications: found.data.map((client) => ({
        id: client.client_id,
        href: `/console/applications/${encodeURIComponent(client.client_id)}`,
        name: client.client_name ?? client.client_id,
        type: APPLICATION_TYPES[applicationTypeOf(client)].label,
        builtIn: client.client_id.startsWith('gatehouse-'),
        created: showDate(client.created_at),
      })),
      next: found.next_cursor
        ? `/console/applications?${new URLSearchParams({ ...(search ? { search } : {}), cursor: found.next_cursor })}`
        : undefined,
      ...message,
    });
  };

  const renderNew = (page: ConsolePage, type: ApplicationType, values: Record<string, string> = {}, error?: string, status = 200) =>
    page.render(
      'application-new',
      {
        title: 'New application',
        area: '/console/applications',
        types: Object.entries(APPLICATION_TYPES).map(([value, kind]) => ({
          value,
          label: kind.label,
          help: kind.help,
          checked: value === type,
        })),
        redirects: APPLICATION_TYPES[type].redirects,
        type,
        ...values,
        error,
      },
      status,
    );

  const renderApplication = async (page: ConsolePage, client: Client, message: Record<string, unknown> = {}, status = 200) => {
    const type = applicationTypeOf(client);
    const apis = (await deps.resources.listResources({ limit: 100 })).resources;
    const granted = new Map(client.api_access.map((grant) => [grant.resource, new Set(grant.scopes)]));
    const scopes = new Set((client.scope ?? 'openid profile email offline_access').split(' '));
    page.render(
      'application',
      {
        title: client.client_name ?? client.client_id,
        area: '/console/applications',
        client,
        href: `/console/applications/${encodeURIComponent(client.client_id)}`,
        name: client.client_name ?? '',
        typeLabel: APPLICATION_TYPES[type].label,
        typeHelp: APPLICATION_TYPES[type].help,
        confidential: client.token_endpoint_auth_method !== 'none',
        builtIn: client.client_id.startsWith('gatehouse-'),
        canWrite: operations.allows(page.admin, 'updateClient') && !OWN_PAGE_CLIENTS.includes(client.client_id),
        ownPageClient: OWN_PAGE_CLIENTS.includes(client.client_id),
        redirectUris: client.redirect_uris.join('\n'),
        logoutUris: client.post_logout_redirect_uris.join('\n'),
        grants: GRANTS.map((grant) => ({ ...grant, checked: client.grant_types.includes(grant.value) })),
        oidcScopes: CLIENT_OIDC_SCOPES.map((scope) => ({ value: scope, checked: scopes.has(scope) })),
        apis: apis.map((api, index) => ({
          index,
          identifier: api.identifier,
          name: api.name,
          scopes: api.scopes.map((scope) => ({
            name: scope.name,
            description: scope.description,
            checked: granted.get(api.identifier)?.has(scope.name) ?? false,
          })),
        })),
        hasApis: apis.length > 0,
        grantsSummary: client.api_access.map((grant) => `${grant.resource}: ${grant.scopes.join(' ') || '(no scopes)'}`),
        pkceRequired: client.require_pkce !== false,
        firstParty: client.first_party === true,
        requireMfa: client.require_mfa === true,
        backchannelLogoutUri: client.backchannel_logout_uri ?? '',
        created: showDate(client.created_at),
        updated: showDate(client.updated_at),
        ...message,
      },
      status,
    );
  };

  return {
    get: {
      '/applications': (page) => renderList(page),
      '/applications/new': async (page) => {
        const requested = typeof page.ctx.query.type === 'string' ? page.ctx.query.type : 'web';
        renderNew(page, isApplicationType(requested) ? requested : 'web');
      },
      '/applications/:id': async (page) => renderApplication(page, await load(page, String(page.ctx.params.id))),
      '/applications/:id/delete': async (page) => {
        const client = await load(page, String(page.ctx.params.id));
        page.render('application-delete', {
          title: `Delete ${client.client_name ?? client.client_id}`,
          area: '/console/applications',
          client,
          name: client.client_name ?? client.client_id,
          href: `/console/applications/${encodeURIComponent(client.client_id)}`,
        });
      },
    },
    post: {
      '/applications': async (page) => {
        const requested = field(page.form, 'type');
        const type = isApplicationType(requested) ? requested : 'web';
        const kind = APPLICATION_TYPES[type];
        const values = {
          client_name: field(page.form, 'client_name').trim(),
          redirect_uris: field(page.form, 'redirect_uris'),
          post_logout_redirect_uris: field(page.form, 'post_logout_redirect_uris'),
        };
        try {
          const created = await operations.run<z.infer<typeof registeredClientView>>('registerClient', page.admin, {
            body: {
              ...kind.metadata,
              grant_types: [...kind.metadata.grant_types],
              ...(values.client_name ? { client_name: values.client_name } : {}),
              ...(kind.redirects
                ? { redirect_uris: lines(values.redirect_uris), post_logout_redirect_uris: lines(values.post_logout_redirect_uris) }
                : {}),
            },
          });
          page.render('application-created', {
            title: 'Application created',
            area: '/console/applications',
            client: created,
            name: created.client_name ?? created.client_id,
            secret: created.client_secret,
            href: `/console/applications/${encodeURIComponent(created.client_id)}`,
            notice: `${created.client_name ?? created.client_id} was created.`,
          });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 400) throw error;
          renderNew(page, type, values, sentence(failure.description, LABELS), 400);
        }
      },
      '/applications/:id': async (page) => {
        const client = await loadChangeable(page, String(page.ctx.params.id));
        const form = page.form;
        const apis = (await deps.resources.listResources({ limit: 100 })).resources;
        const changes = {
          client_name: field(form, 'client_name').trim() || undefined,
          redirect_uris: lines(field(form, 'redirect_uris')),
          post_logout_redirect_uris: lines(field(form, 'post_logout_redirect_uris')),
          grant_types: fields(form, 'grant_types'),
          scope: fields(form, 'scope').join(' ') || undefined,
          api_access: apis
            .map((api, index) => ({ resource: api.identifier, scopes: fields(form, `api_${index}`) }))
            .filter((grant) => grant.scopes.length > 0),
          first_party: field(form, 'first_party') === 'on',
          require_mfa: field(form, 'require_mfa') === 'on',
          ...(client.token_endpoint_auth_method !== 'none' ? { require_pkce: field(form, 'require_pkce') === 'on' } : {}),
          backchannel_logout_uri: field(form, 'backchannel_logout_uri').trim() || undefined,
        };
        try {
          // An absent scope means DEFAULT_CLIENT_SCOPE: unchecking every box would widen the client, not narrow it.
          operations.require(page.admin, 'updateClient');
          if (!changes.scope) {
            throw new AppError(400, 'invalid_client_metadata', 'scope: check at least one (openid); with none the defaults would apply');
          }
          const updated = await operations.run<Client>('updateClient', page.admin, { params: { id: client.client_id }, body: changes });
          await renderApplication(page, updated, { notice: 'The changes were saved.' });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 400) throw error;
          await renderApplication(page, client, { error: sentence(failure.description, LABELS) }, 400);
        }
      },
      '/applications/:id/secret': async (page) => {
        const client = await loadChangeable(page, String(page.ctx.params.id));
        const rotated = await operations.run<z.infer<typeof clientSecretView>>('rotateClientSecret', page.admin, {
          params: { id: client.client_id },
        });
        page.render('application-created', {
          title: 'New client secret',
          area: '/console/applications',
          client,
          name: client.client_name ?? client.client_id,
          secret: rotated.client_secret,
          rotated: true,
          href: `/console/applications/${encodeURIComponent(client.client_id)}`,
          notice: 'A new secret was issued. The old one no longer works.',
        });
      },
      '/applications/:id/delete': async (page) => {
        const client = await loadChangeable(page, String(page.ctx.params.id));
        await operations.run('deleteClient', page.admin, { params: { id: client.client_id } });
        page.ctx.query = {};
        await renderList(page, { notice: `${client.client_name ?? client.client_id} (${client.client_id}) was deleted.` });
      },
    },
  };
}
