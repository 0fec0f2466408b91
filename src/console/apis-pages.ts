import type { z } from 'zod';
import type { resourcePage, resourceView } from '../admin/resources/schema.js';
import { describeError } from '../http/error-renderer.js';
import type { ConsoleOperations } from './console-operations.js';
import { field, lines, sentence, type ConsoleArea, type ConsolePage } from './console-routes.js';

type Api = z.infer<typeof resourceView>;

const LABELS: Record<string, string> = {
  identifier: 'Identifier',
  name: 'Name',
  scopes: 'Scopes',
  access_token_ttl: 'Token lifetime',
};

/** "items:read Read your items" per line → scopes with descriptions. */
export function scopesFrom(text: string): { name: string; description?: string }[] {
  return lines(text).map((line) => {
    const [name = '', ...rest] = line.split(/\s+/);
    const description = rest.join(' ').replace(/^[-–—:]\s*/, '');
    return description ? { name, description } : { name };
  });
}

const scopesText = (api: Api) =>
  api.scopes.map((scope) => (scope.description ? `${scope.name} ${scope.description}` : scope.name)).join('\n');

/** The form's fields as the admin API's body (the lifetime in seconds, as the API takes it). */
function bodyOf(form: Record<string, unknown>) {
  const ttl = field(form, 'access_token_ttl').trim();
  return {
    name: field(form, 'name').trim(),
    scopes: scopesFrom(field(form, 'scopes')),
    ...(ttl ? { access_token_ttl: /^\d+$/.test(ttl) ? Number(ttl) : ttl } : {}),
    rbac: field(form, 'rbac') === 'on' ? ('on' as const) : ('off' as const),
    permissions_claim: field(form, 'permissions_claim') === 'on',
  };
}

/** /console/apis: the APIs (RFC 8707 resources) tokens are issued for: create, edit name, scopes, lifetime, RBAC; delete. */
export function apiPages(deps: { readonly operations: ConsoleOperations; readonly adminResource: string }): ConsoleArea {
  const { operations } = deps;
  const load = (page: ConsolePage) => operations.run<Api>('getResource', page.admin, { params: { id: String(page.ctx.params.id) } });

  const renderList = async (page: ConsolePage, message: Record<string, unknown> = {}) => {
    const found = await operations.run<z.infer<typeof resourcePage>>('listResources', page.admin, { query: { limit: '100' } });
    page.render('apis', {
      title: 'APIs',
      area: '/console/apis',
      canWrite: operations.allows(page.admin, 'createResource'),
      apis: found.data.map((api) => ({
        ...api,
        href: `/console/apis/${api.id}`,
        scopeList: api.scopes.map((scope) => scope.name).join(' '),
        builtIn: api.identifier === deps.adminResource,
      })),
      ...message,
    });
  };

  const renderApi = (page: ConsolePage, api: Api, message: Record<string, unknown> = {}, status = 200) =>
    page.render(
      'api',
      {
        title: api.name,
        area: '/console/apis',
        api,
        href: `/console/apis/${api.id}`,
        scopesText: scopesText(api),
        rbacOn: api.rbac === 'on',
        builtIn: api.identifier === deps.adminResource,
        canWrite: operations.allows(page.admin, 'updateResource') && api.identifier !== deps.adminResource,
        ...message,
      },
      status,
    );

  return {
    get: {
      '/apis': (page) => renderList(page),
      '/apis/new': async (page) => page.render('api-new', { title: 'New API', area: '/console/apis', access_token_ttl: '600' }),
      '/apis/:id': async (page) => renderApi(page, await load(page)),
      '/apis/:id/delete': async (page) => {
        const api = await load(page);
        page.render('api-delete', { title: `Delete ${api.name}`, area: '/console/apis', api, href: `/console/apis/${api.id}` });
      },
    },
    post: {
      '/apis': async (page) => {
        const values = {
          identifier: field(page.form, 'identifier').trim(),
          name: field(page.form, 'name').trim(),
          scopes: field(page.form, 'scopes'),
          access_token_ttl: field(page.form, 'access_token_ttl'),
          rbacOn: field(page.form, 'rbac') === 'on',
          permissionsClaim: field(page.form, 'permissions_claim') === 'on',
        };
        try {
          const api = await operations.run<Api>('createResource', page.admin, {
            body: { identifier: values.identifier, ...bodyOf(page.form) },
          });
          renderApi(page, api, { notice: `${api.name} was created.` });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 400 && failure.status !== 409) throw error;
          page.render(
            'api-new',
            { title: 'New API', area: '/console/apis', ...values, error: sentence(failure.description, LABELS) },
            failure.status,
          );
        }
      },
      '/apis/:id': async (page) => {
        const api = await load(page);
        try {
          const updated = await operations.run<Api>('updateResource', page.admin, { params: { id: api.id }, body: bodyOf(page.form) });
          renderApi(page, updated, { notice: 'The changes were saved.' });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 400) throw error;
          renderApi(page, api, { error: sentence(failure.description, LABELS) }, 400);
        }
      },
      '/apis/:id/delete': async (page) => {
        const api = await load(page);
        await operations.run('deleteResource', page.admin, { params: { id: api.id } });
        await renderList(page, { notice: `${api.name} (${api.identifier}) was deleted.` });
      },
    },
  };
}
