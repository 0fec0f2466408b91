import { ADMIN_ROLE, type RoleService } from '../../accounts/roles.js';
import type { UserService } from '../../accounts/users.js';
import { defineRoute, notFound, requireFullAdmin, uuidParams, type AdminRoute } from '../admin-route.js';
import { decodeCursor, page } from '../pagination.js';
import { presentRole, presentUserPermissions, presentUserRoles } from './presenter.js';
import {
  createRoleBody,
  listRolesQuery,
  rolePage,
  roleView,
  setUserRolesBody,
  updateRoleBody,
  userPermissionsView,
  userRolesView,
} from './schema.js';

/**
 * Roles (RBAC) and users' roles. Roles are users' business, so they need the
 * users scopes; the admin role, and admins, only `admin` itself.
 */
export function roleRoutes(roles: RoleService, users: UserService): AdminRoute[] {
  const findRole = async (id: string) => {
    const role = await roles.findRole(id);
    if (!role) throw notFound('role', id);
    return role;
  };
  return [
    defineRoute({
      method: 'get',
      path: '/roles',
      operationId: 'listRoles',
      summary: 'List roles with their permissions',
      scope: 'admin:users:read',
      status: 200,
      query: listRolesQuery,
      response: rolePage,
      handle: async ({ query }) => {
        const { roles: found, nextCursor } = await roles.listRoles({ limit: query.limit, after: decodeCursor(query.cursor) });
        return page(found.map(presentRole), nextCursor);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/roles',
      operationId: 'createRole',
      summary: 'Create a role: name, description, permissions [{ resource, scope }], require_mfa (its users must use a second factor)',
      scope: 'admin:users:write',
      status: 201,
      body: createRoleBody,
      response: roleView,
      handle: async ({ body, audit }) => presentRole(await roles.createRole(body, audit)),
    }),
    defineRoute({
      method: 'get',
      path: '/roles/:id',
      operationId: 'getRole',
      params: uuidParams,
      summary: 'Show a role',
      scope: 'admin:users:read',
      status: 200,
      response: roleView,
      handle: async ({ params }) => presentRole(await findRole(params.id)),
    }),
    defineRoute({
      method: 'patch',
      path: '/roles/:id',
      operationId: 'updateRole',
      params: uuidParams,
      summary:
        'Change a role (permissions, when given, replace its permissions; require_mfa turns the second-factor requirement on or off)',
      scope: 'admin:users:write',
      status: 200,
      body: updateRoleBody,
      response: roleView,
      handle: async ({ params, body, audit, caller }) => {
        const role = await findRole(params.id);
        if (role.name === ADMIN_ROLE) requireFullAdmin(caller, 'changing the admin role');
        return presentRole(await roles.updateRole(role.id, body, audit));
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/roles/:id',
      operationId: 'deleteRole',
      params: uuidParams,
      summary: 'Delete a role (its users lose it)',
      scope: 'admin:users:write',
      status: 204,
      handle: async ({ params, audit }) => {
        const role = await findRole(params.id);
        await roles.deleteRole(role.id, audit);
      },
    }),
    defineRoute({
      method: 'put',
      path: '/users/:id/roles',
      operationId: 'setUserRoles',
      params: uuidParams,
      summary: "Replace a user's roles (by name)",
      scope: 'admin:users:write',
      status: 200,
      body: setUserRolesBody,
      response: userRolesView,
      handle: async ({ params, body, audit, caller }) => {
        const user = await users.findUserById(params.id);
        if (!user) throw notFound('user', params.id);
        if (user.roles.includes(ADMIN_ROLE) || body.roles.includes(ADMIN_ROLE))
          requireFullAdmin(caller, 'granting or taking the admin role');
        return presentUserRoles(user.id, await roles.setUserRoles(user.id, body.roles, audit));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/:id/permissions',
      operationId: 'getUserPermissions',
      params: uuidParams,
      summary: "A user's effective permissions, by API",
      scope: 'admin:users:read',
      status: 200,
      response: userPermissionsView,
      handle: async ({ params }) => {
        const user = await users.findUserById(params.id);
        if (!user) throw notFound('user', params.id);
        return presentUserPermissions(user.id, await roles.permissionsOf(user.id));
      },
    }),
  ];
}
