import type { z } from 'zod';
import type { resourcePage } from '../admin/resources/schema.js';
import type { rolePage, roleView } from '../admin/roles/schema.js';
import { describeError } from '../http/error-renderer.js';
import type { ConsoleOperations } from './console-operations.js';
import { field, fields, sentence, type ConsoleArea, type ConsolePage } from './console-routes.js';

type Role = z.infer<typeof roleView>;

const LABELS: Record<string, string> = { name: 'Name', description: 'Description', permissions: 'Permissions' };

/** /console/roles: roles and the API permissions each grants; create, edit, delete. */
export function rolePages(deps: { readonly operations: ConsoleOperations }): ConsoleArea {
  const { operations } = deps;
  const load = (page: ConsolePage) => operations.run<Role>('getRole', page.admin, { params: { id: String(page.ctx.params.id) } });

  /** Every scope of every API, as checkboxes named `perm` with value `<api index> <scope>`. */
  const permissionChoices = async (page: ConsolePage, held: readonly { resource: string; scope: string }[]) => {
    const apis = page.admin.can('admin:resources:read')
      ? (await operations.run<z.infer<typeof resourcePage>>('listResources', page.admin, { query: { limit: '100' } })).data
      : [];
    const has = new Set(held.map((permission) => `${permission.resource} ${permission.scope}`));
    return apis.map((api, index) => ({
      name: api.name,
      identifier: api.identifier,
      scopes: api.scopes.map((scope) => ({
        value: `${index} ${scope.name}`,
        id: `perm-${index}-${scope.name}`,
        name: scope.name,
        description: scope.description,
        checked: has.has(`${api.identifier} ${scope.name}`),
      })),
    }));
  };
  const permissionsFrom = async (page: ConsolePage) => {
    const apis = (await operations.run<z.infer<typeof resourcePage>>('listResources', page.admin, { query: { limit: '100' } })).data;
    return fields(page.form, 'perm').flatMap((value) => {
      const [index = '', scope = ''] = value.split(' ');
      const api = apis[Number(index)];
      return api ? [{ resource: api.identifier, scope }] : [];
    });
  };

  const renderRole = async (page: ConsolePage, role: Role, message: Record<string, unknown> = {}, status = 200) =>
    page.render(
      'role',
      {
        title: role.name,
        area: '/console/roles',
        role,
        href: `/console/roles/${role.id}`,
        canWrite: operations.allows(page.admin, 'updateRole') && page.admin.can('admin:resources:read'),
        apis: await permissionChoices(page, role.permissions),
        ...message,
      },
      status,
    );

  const renderList = async (page: ConsolePage, message: Record<string, unknown> = {}) => {
    const found = await operations.run<z.infer<typeof rolePage>>('listRoles', page.admin, { query: { limit: '100' } });
    page.render('roles', {
      title: 'Roles',
      area: '/console/roles',
      canWrite: operations.allows(page.admin, 'createRole') && page.admin.can('admin:resources:read'),
      roles: found.data.map((role) => ({ ...role, href: `/console/roles/${role.id}`, count: role.permissions.length })),
      ...message,
    });
  };

  return {
    get: {
      '/roles': (page) => renderList(page),
      '/roles/new': async (page) =>
        page.render('role-new', { title: 'New role', area: '/console/roles', apis: await permissionChoices(page, []) }),
      '/roles/:id': async (page) => renderRole(page, await load(page)),
      '/roles/:id/delete': async (page) => {
        const role = await load(page);
        page.render('role-delete', { title: `Delete ${role.name}`, area: '/console/roles', role, href: `/console/roles/${role.id}` });
      },
    },
    post: {
      '/roles': async (page) => {
        const values = { name: field(page.form, 'name').trim(), description: field(page.form, 'description').trim() };
        try {
          const role = await operations.run<Role>('createRole', page.admin, {
            body: { ...values, permissions: await permissionsFrom(page), require_mfa: field(page.form, 'require_mfa') === 'on' },
          });
          await renderRole(page, role, { notice: `The role ${role.name} was created.` });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 400 && failure.status !== 409) throw error;
          page.render(
            'role-new',
            {
              title: 'New role',
              area: '/console/roles',
              ...values,
              apis: await permissionChoices(page, await permissionsFrom(page)),
              error: sentence(failure.description, LABELS),
            },
            failure.status,
          );
        }
      },
      '/roles/:id': async (page) => {
        const role = await load(page);
        try {
          const updated = await operations.run<Role>('updateRole', page.admin, {
            params: { id: role.id },
            // A built-in role (admin) keeps its name and permissions.
            body: {
              ...(role.built_in ? {} : { name: field(page.form, 'name').trim(), permissions: await permissionsFrom(page) }),
              description: field(page.form, 'description').trim(),
              require_mfa: field(page.form, 'require_mfa') === 'on',
            },
          });
          await renderRole(page, updated, { notice: 'The changes were saved.' });
        } catch (error) {
          const failure = describeError(error);
          if (failure.status !== 400 && failure.status !== 409) throw error;
          await renderRole(page, role, { error: sentence(failure.description, LABELS) }, failure.status);
        }
      },
      '/roles/:id/delete': async (page) => {
        const role = await load(page);
        await operations.run('deleteRole', page.admin, { params: { id: role.id } });
        await renderList(page, { notice: `The role ${role.name} was deleted.` });
      },
    },
  };
}
