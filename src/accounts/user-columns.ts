import type { User } from './users.js';

// A module of its own, importing nothing at run time: the protocol adapter
// builds its refresh-token statement from these columns when it loads
// (src/oidc/prisma-adapter.ts), and users.ts imports from src/oidc/, so
// keeping them in users.ts would leave an import cycle one edit away.

/**
 * The columns of one user (alias `u`) that `userFromColumns` reads, its role
 * names and whether a role requires a second factor in the same row. No
 * password hash: a caller that needs it selects `u.password_hash` beside.
 */
export const USER_COLUMNS = `u.id::text, u.email, u.name, u.email_verified, u.disabled, u.created_at, u.updated_at,
       ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id) AS roles,
       EXISTS(SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id AND r.require_mfa) AS roles_require_mfa`;

/** A row of `USER_COLUMNS`. */
export interface UserColumns {
  id: string;
  email: string;
  name: string | null;
  email_verified: boolean;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
  roles: string[];
  roles_require_mfa: boolean;
}

export function userFromColumns(row: UserColumns): User {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    emailVerified: row.email_verified,
    disabled: row.disabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    roles: [...row.roles].sort(),
    rolesRequireMfa: row.roles_require_mfa,
  };
}
