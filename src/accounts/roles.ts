import { z } from 'zod';
import { recordEvent, SYSTEM, type AuditContext } from '../audit/events.js';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { isUniqueViolation, isUuid, splitPage } from '../db/prisma.js';
import { AppError, parseOrThrow } from '../http/errors.js';
import { isStorableText } from '../http/storable-text.js';

/** The built-in role: it grants the admin API's permissions and cannot be deleted or renamed. */
export const ADMIN_ROLE = 'admin';

/** One permission: a scope of a registered API (its RFC 8707 identifier). */
export interface Permission {
  readonly resource: string;
  readonly scope: string;
}

export interface Role {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly builtIn: boolean;
  /** Users holding the role must sign in with a second factor (src/mfa/mfa-policy.ts). */
  readonly requireMfa: boolean;
  readonly permissions: Permission[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export const roleName = z.string().regex(/^[\w:.-]{1,64}$/, 'role names are 1-64 characters of letters, digits, _ : . -');
// Postgres refuses NUL bytes and lone surrogates in text (a 500 if they reached a query).
const storableText = (max: number) => z.string().max(max).refine(isStorableText, 'must not contain NUL or unpaired surrogate characters');
const permission = z
  .object({ resource: storableText(2000).pipe(z.string().min(1)), scope: storableText(200).pipe(z.string().min(1)) })
  .strict();

// Snake case, as the admin API's bodies (and client metadata's `require_mfa`) are.
const requireMfa = z.boolean({ error: 'require_mfa must be true or false' });

export const newRoleSchema = z
  .object({
    name: roleName,
    description: storableText(500).default(''),
    permissions: z.array(permission).max(500).default([]),
    require_mfa: requireMfa.default(false),
  })
  .strict();
export const roleChangesSchema = z
  .object({
    name: roleName.optional(),
    description: storableText(500).optional(),
    permissions: z.array(permission).max(500).optional(),
    require_mfa: requireMfa.optional(),
  })
  .strict();
export const roleNamesSchema = z.array(roleName).max(50);

type Db = Prisma.TransactionClient | PrismaClient;

const roleInclude = { permissions: { include: { resource: { select: { identifier: true } } } } } as const;
type RoleRow = Prisma.RoleGetPayload<{ include: typeof roleInclude }>;

function toRole(row: RoleRow): Role {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    builtIn: row.builtIn,
    requireMfa: row.requireMfa,
    permissions: row.permissions
      .map((item) => ({ resource: item.resource.identifier, scope: item.scope }))
      .sort((a, b) => a.resource.localeCompare(b.resource) || a.scope.localeCompare(b.scope)),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const notFound = (id: string) => new AppError(404, 'not_found', `no role ${id}`);
const nameTaken = (name: string) => new AppError(409, 'role_exists', `a role named ${name} already exists`);

/**
 * The (resource id, scope) rows for these permissions; an unknown API or a
 * scope the API does not define is a 400 naming it.
 */
async function resolvePermissions(db: Db, permissions: readonly Permission[]): Promise<{ resourceId: string; scope: string }[]> {
  const identifiers = [...new Set(permissions.map((item) => item.resource))];
  const resources = await db.resource.findMany({
    where: { identifier: { in: identifiers } },
    select: { id: true, identifier: true, scopes: true },
  });
  const byIdentifier = new Map(resources.map((resource) => [resource.identifier, resource]));
  const rows = new Map<string, { resourceId: string; scope: string }>();
  for (const { resource, scope } of permissions) {
    const found = byIdentifier.get(resource);
    if (!found) throw new AppError(400, 'unknown_resource', `${resource} is not a registered API`);
    const scopes = (found.scopes as { name: string }[]).map((item) => item.name);
    if (!scopes.includes(scope)) throw new AppError(400, 'unknown_scope', `${scope} is not a scope of ${resource}`);
    rows.set(`${found.id} ${scope}`, { resourceId: found.id, scope });
  }
  return [...rows.values()];
}

/** Role ids for these names; an unknown name is a 400 naming it. */
export async function resolveRoleIds(db: Db, names: readonly string[]): Promise<string[]> {
  const unique = [...new Set(names)];
  const found = await db.role.findMany({ where: { name: { in: unique } }, select: { id: true, name: true } });
  const missing = unique.filter((name) => !found.some((role) => role.name === name));
  if (missing.length) throw new AppError(400, 'unknown_role', `no role named ${missing.join(', ')}`);
  return found.map((role) => role.id);
}

/** Replaces a user's roles (inside the caller's transaction). */
export async function replaceUserRoles(tx: Prisma.TransactionClient, userId: string, names: readonly string[]): Promise<void> {
  const roleIds = await resolveRoleIds(tx, names);
  await tx.userRole.deleteMany({ where: { userId } });
  if (roleIds.length) await tx.userRole.createMany({ data: roleIds.map((roleId) => ({ userId, roleId })) });
}

/** Whether any role the user holds requires a second factor at sign-in. */
export async function rolesRequireMfa(db: Db, userId: string): Promise<boolean> {
  if (!isUuid(userId)) return false;
  return (await db.userRole.count({ where: { userId, role: { requireMfa: true } } })) > 0;
}

/** What the user's roles permit, by API identifier (scopes sorted). */
export async function permissionsOf(db: Db, userId: string, resource?: string): Promise<Record<string, string[]>> {
  if (!isUuid(userId)) return {};
  const rows = await db.rolePermission.findMany({
    where: { role: { users: { some: { userId } } }, ...(resource ? { resource: { identifier: resource } } : {}) },
    select: { scope: true, resource: { select: { identifier: true } } },
  });
  const byApi: Record<string, string[]> = {};
  for (const row of rows) {
    const scopes = byApi[row.resource.identifier] ?? [];
    scopes.push(row.scope);
    byApi[row.resource.identifier] = scopes;
  }
  for (const [api, scopes] of Object.entries(byApi)) byApi[api] = [...new Set(scopes)].sort();
  return byApi;
}

export function createRoleService(prisma: PrismaClient) {
  const load = async (db: Db, id: string): Promise<Role> => {
    const row = await db.role.findUnique({ where: { id }, include: roleInclude });
    if (!row) throw notFound(id);
    return toRole(row);
  };

  const service = {
    async createRole(input: z.input<typeof newRoleSchema>, audit: AuditContext = SYSTEM): Promise<Role> {
      const { name, description, permissions, require_mfa } = parseOrThrow(newRoleSchema, input);
      try {
        return await prisma.$transaction(async (tx) => {
          const rows = await resolvePermissions(tx, permissions);
          const role = await tx.role.create({
            data: { name, description, requireMfa: require_mfa, permissions: { createMany: { data: rows } } },
          });
          const created = await load(tx, role.id);
          await recordEvent(tx, audit, {
            type: 'role.created',
            subject: role.id,
            details: { name, permissions: created.permissions, require_mfa },
          });
          return created;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(name);
        throw error;
      }
    },

    async listRoles(filter: { limit: number; after?: string }): Promise<{ roles: Role[]; nextCursor: string | null }> {
      if (filter.after !== undefined && !isUuid(filter.after)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
      const rows = await prisma.role.findMany({
        where: filter.after ? { id: { gt: filter.after } } : {},
        orderBy: { id: 'asc' },
        take: filter.limit + 1,
        include: roleInclude,
      });
      const { page, nextCursor } = splitPage(rows, filter.limit, (row) => row.id);
      return { roles: page.map(toRole), nextCursor };
    },

    /** By id, or by name (the CLI's way). */
    async findRole(idOrName: string): Promise<Role | null> {
      const row = await prisma.role.findFirst({
        where: isUuid(idOrName) ? { OR: [{ id: idOrName }, { name: idOrName }] } : { name: idOrName },
        include: roleInclude,
      });
      return row ? toRole(row) : null;
    },

    /**
     * `permissions`, when given, replaces the role's permissions. The admin
     * role keeps its name and permissions (its description and require_mfa may change).
     */
    async updateRole(idOrName: string, input: z.input<typeof roleChangesSchema>, audit: AuditContext = SYSTEM): Promise<Role> {
      const changes = parseOrThrow(roleChangesSchema, input);
      const current = await service.findRole(idOrName);
      if (!current) throw notFound(idOrName);
      if (current.builtIn && ((changes.name !== undefined && changes.name !== current.name) || changes.permissions !== undefined)) {
        throw new AppError(409, 'role_reserved', `the ${current.name} role is built in: only its description and require_mfa can change`);
      }
      try {
        return await prisma.$transaction(async (tx) => {
          await tx.role.update({
            where: { id: current.id },
            data: {
              ...(changes.name !== undefined ? { name: changes.name } : {}),
              ...(changes.description !== undefined ? { description: changes.description } : {}),
              ...(changes.require_mfa !== undefined ? { requireMfa: changes.require_mfa } : {}),
            },
          });
          if (changes.permissions !== undefined) {
            const rows = await resolvePermissions(tx, changes.permissions);
            await tx.rolePermission.deleteMany({ where: { roleId: current.id } });
            if (rows.length) await tx.rolePermission.createMany({ data: rows.map((row) => ({ ...row, roleId: current.id })) });
          }
          const updated = await load(tx, current.id);
          await recordEvent(tx, audit, {
            type: 'role.updated',
            subject: current.id,
            details: {
              name: updated.name,
              fields: Object.keys(changes),
              ...(changes.permissions ? { permissions: updated.permissions } : {}),
              // Who turned a role's second-factor requirement on or off, and from what.
              ...(changes.require_mfa !== undefined ? { require_mfa: { before: current.requireMfa, after: updated.requireMfa } } : {}),
            },
          });
          return updated;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw nameTaken(changes.name ?? '');
        throw error;
      }
    },

    /** Users holding it lose it; the next token they get carries less. */
    async deleteRole(idOrName: string, audit: AuditContext = SYSTEM): Promise<void> {
      const current = await service.findRole(idOrName);
      if (!current) throw notFound(idOrName);
      if (current.builtIn) throw new AppError(409, 'role_reserved', `the ${current.name} role is built in and cannot be deleted`);
      await prisma.$transaction(async (tx) => {
        const { count } = await tx.role.deleteMany({ where: { id: current.id } });
        if (count === 0) throw notFound(idOrName);
        await recordEvent(tx, audit, { type: 'role.deleted', subject: current.id, details: { name: current.name } });
      });
    },

    /** Replaces the user's roles with these (by name). */
    async setUserRoles(userId: string, names: readonly string[], audit: AuditContext = SYSTEM): Promise<string[]> {
      const parsed = parseOrThrow(roleNamesSchema, names);
      if (!isUuid(userId)) throw new AppError(404, 'not_found', `no user ${userId}`);
      return prisma.$transaction(async (tx) => {
        const before = await service.roleNamesOf(userId, tx);
        if (!(await tx.user.findUnique({ where: { id: userId }, select: { id: true } })))
          throw new AppError(404, 'not_found', `no user ${userId}`);
        await replaceUserRoles(tx, userId, parsed);
        const after = await service.roleNamesOf(userId, tx);
        await recordEvent(tx, audit, { type: 'user.roles_changed', subject: userId, details: { before, after } });
        return after;
      });
    },

    async roleNamesOf(userId: string, db: Db = prisma): Promise<string[]> {
      if (!isUuid(userId)) return [];
      const rows = await db.userRole.findMany({ where: { userId }, select: { role: { select: { name: true } } } });
      return rows.map((row) => row.role.name).sort();
    },

    /** Whether any of the user's roles requires a second factor at sign-in. */
    requiresMfa(userId: string): Promise<boolean> {
      return rolesRequireMfa(prisma, userId);
    },

    /** Effective permissions of a user, by API identifier. */
    permissionsOf(userId: string, resource?: string): Promise<Record<string, string[]>> {
      return permissionsOf(prisma, userId, resource);
    },

    /** The built-in admin role holds every scope of the admin API (set at each start). */
    async ensureAdminRole(adminResource: string): Promise<void> {
      await prisma.$transaction(async (tx) => {
        const role = await tx.role.upsert({
          where: { name: ADMIN_ROLE },
          create: { name: ADMIN_ROLE, description: 'Manage everything in Gatehouse', builtIn: true },
          update: { builtIn: true },
        });
        const api = await tx.resource.findUnique({ where: { identifier: adminResource }, select: { id: true, scopes: true } });
        if (!api) return;
        const scopes = (api.scopes as { name: string }[]).map((item) => item.name);
        // Idempotent, so instances starting at once do not trip over each other.
        await tx.rolePermission.deleteMany({ where: { roleId: role.id, NOT: { resourceId: api.id, scope: { in: scopes } } } });
        await tx.rolePermission.createMany({
          data: scopes.map((scope) => ({ roleId: role.id, resourceId: api.id, scope })),
          skipDuplicates: true,
        });
      });
    },
  };
  return service;
}

export type RoleService = ReturnType<typeof createRoleService>;
