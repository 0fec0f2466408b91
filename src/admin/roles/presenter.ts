import type { z } from 'zod';
import type { Role } from '../../accounts/roles.js';
import type { roleView } from './schema.js';

/** The fields a role shows to the admin API. */
export function presentRole(role: Role): z.infer<typeof roleView> {
  return {
    id: role.id,
    name: role.name,
    description: role.description,
    built_in: role.builtIn,
    require_mfa: role.requireMfa,
    permissions: role.permissions.map((permission) => ({ resource: permission.resource, scope: permission.scope })),
    created_at: role.createdAt.toISOString(),
    updated_at: role.updatedAt.toISOString(),
  };
}

export function presentUserRoles(userId: string, roles: readonly string[]): { user_id: string; roles: string[] } {
  return { user_id: userId, roles: [...roles] };
}

export function presentUserPermissions(
  userId: string,
  permissions: Record<string, string[]>,
): { user_id: string; permissions: Record<string, string[]> } {
  return { user_id: userId, permissions: Object.fromEntries(Object.entries(permissions).map(([api, scopes]) => [api, [...scopes]])) };
}
