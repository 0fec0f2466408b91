import { z } from 'zod';
import { newRoleSchema, roleChangesSchema, roleNamesSchema } from '../../accounts/roles.js';
import { pageQuery, pageSchema } from '../pagination.js';

export const createRoleBody = newRoleSchema;
export const updateRoleBody = roleChangesSchema;
export const setUserRolesBody = z.object({ roles: roleNamesSchema }).strict();
export const listRolesQuery = z.object(pageQuery).strict();

const permissionView = z.object({ resource: z.string(), scope: z.string() });

export const roleView = z.object({
  id: z.uuid(),
  name: z.string(),
  description: z.string(),
  built_in: z.boolean(),
  require_mfa: z.boolean(),
  permissions: z.array(permissionView),
  created_at: z.string(),
  updated_at: z.string(),
});

export const rolePage = pageSchema(roleView);
export const userRolesView = z.object({ user_id: z.uuid(), roles: z.array(z.string()) });
/** Effective permissions: API identifier → scopes. */
export const userPermissionsView = z.object({ user_id: z.uuid(), permissions: z.record(z.string(), z.array(z.string())) });
