import { isDeepStrictEqual } from 'node:util';
import { z } from 'zod';
import { notifyChange } from '../db/change-notifications.js';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { isUniqueViolation, isUuid, splitPage } from '../db/prisma.js';
import { AppError, parseOrThrow } from '../http/errors.js';
import { isStorableText } from '../http/storable-text.js';
import { notifierFor } from './clients.js';

/** An API that access tokens are issued for (RFC 8707 resource indicator). */
export interface Resource {
  readonly id: string;
  readonly identifier: string;
  readonly name: string;
  readonly scopes: { name: string; description?: string }[];
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** User tokens carry only the requested scopes the user holds through roles. */
  readonly rbac: boolean;
  /** With rbac, user tokens also carry a `permissions` array. */
  readonly permissionsClaim: boolean;
}

const scopeName = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token');
const scopes = z
  .array(
    z.union([
      scopeName.transform((name) => ({ name })),
      z.object({ name: scopeName, description: z.string().max(500).optional() }).strict(),
    ]),
  )
  .max(200);

export const newResourceSchema = z
  .object({
    identifier: z
      .url({ error: 'must be an absolute URI' })
      .refine((value) => !value.includes('#'), 'must not contain a fragment (RFC 8707 §2)')
      .refine(isStorableText, 'must not contain NUL or unpaired surrogate characters'),
    name: z.string().min(1).max(200),
    scopes: scopes.default([]),
    access_token_ttl: z.number().int().min(30).max(86400).default(600),
    rbac: z.enum(['on', 'off']).default('off'),
    permissions_claim: z.boolean().default(false),
  })
  .strict();

/** What may change: not the identifier, which tokens already carry as their audience. */
export const resourceChangesSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    scopes: scopes.optional(),
    access_token_ttl: z.number().int().min(30).max(86400).optional(),
    rbac: z.enum(['on', 'off']).optional(),
    permissions_claim: z.boolean().optional(),
  })
  .strict();

const notFound = (id: string) => new AppError(404, 'not_found', `no resource ${id}`);

export function createResourceService(prisma: PrismaClient) {
  /** Every change tells the other instances (their cached copies go stale). */
  const changeResources = <T>(work: (tx: Prisma.TransactionClient) => Promise<T>) =>
    prisma.$transaction(async (tx) => {
      const result = await work(tx);
      await notifyChange(notifierFor(tx), 'resources');
      return result;
    });

  return {
    async createResource(input: z.input<typeof newResourceSchema>): Promise<Resource> {
      const { identifier, name, scopes: scopeList, access_token_ttl, rbac, permissions_claim } = parseOrThrow(newResourceSchema, input);
      try {
        const data = {
          identifier,
          name,
          scopes: scopeList,
          accessTokenTtl: access_token_ttl,
          rbac: rbac === 'on',
          permissionsClaim: permissions_claim,
        };
        return toResource(await changeResources((tx) => tx.resource.create({ data })));
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError(409, 'resource_exists', `${identifier} is already registered`);
        throw error;
      }
    },

    async updateResource(id: string, input: z.input<typeof resourceChangesSchema>): Promise<Resource> {
      const changes = parseOrThrow(resourceChangesSchema, input);
      if (!isUuid(id) || !(await prisma.resource.findUnique({ where: { id }, select: { id: true } }))) throw notFound(id);
      return toResource(
        await changeResources(async (tx) => {
          const updated = await tx.resource.update({
            where: { id },
            data: {
              ...(changes.name !== undefined ? { name: changes.name } : {}),
              ...(changes.scopes !== undefined ? { scopes: changes.scopes } : {}),
              ...(changes.access_token_ttl !== undefined ? { accessTokenTtl: changes.access_token_ttl } : {}),
              ...(changes.rbac !== undefined ? { rbac: changes.rbac === 'on' } : {}),
              ...(changes.permissions_claim !== undefined ? { permissionsClaim: changes.permissions_claim } : {}),
            },
          });
          // A scope the API no longer defines leaves every role and client grant.
          if (changes.scopes !== undefined)
            await forgetRemovedScopes(
              tx,
              updated.id,
              updated.identifier,
              changes.scopes.map((scope) => scope.name),
            );
          return updated;
        }),
      );
    },

    /** Its permissions leave every role (foreign key) and its grants leave every client. */
    async deleteResource(id: string): Promise<void> {
      if (!isUuid(id)) throw notFound(id);
      const deleted = await changeResources(async (tx) => {
        const rows = await tx.resource.findMany({ where: { id }, select: { identifier: true } });
        await tx.resource.deleteMany({ where: { id } });
        for (const row of rows) await removeClientGrants(tx, row.identifier, null);
        return rows.length;
      });
      if (deleted === 0) throw notFound(id);
    },

    /**
     * Creates the resource, or brings its name, scopes and lifetime up to date
     * (for built-in APIs, at every start); one already so is left alone.
     */
    async ensureResource(input: {
      identifier: string;
      name: string;
      scopes: { name: string; description?: string }[];
      accessTokenTtl: number;
      rbac?: boolean;
    }): Promise<Resource> {
      const data = {
        name: input.name,
        scopes: input.scopes,
        accessTokenTtl: input.accessTokenTtl,
        ...(input.rbac !== undefined ? { rbac: input.rbac } : {}),
      };
      return toResource(
        await prisma.$transaction(async (tx) => {
          const stored = await tx.resource.findUnique({ where: { identifier: input.identifier } });
          // One already so is left alone: a restart does not tell every other instance to drop its cached APIs.
          const unchanged =
            stored !== null &&
            stored.name === data.name &&
            stored.accessTokenTtl === data.accessTokenTtl &&
            (data.rbac === undefined || stored.rbac === data.rbac) &&
            isDeepStrictEqual(stored.scopes, JSON.parse(JSON.stringify(data.scopes)));
          if (unchanged) return stored;
          const saved = await tx.resource.upsert({
            where: { identifier: input.identifier },
            create: { identifier: input.identifier, ...data },
            update: data,
          });
          await notifyChange(notifierFor(tx), 'resources');
          return saved;
        }),
      );
    },

    async listResources(filter: { limit: number; after?: string }): Promise<{ resources: Resource[]; nextCursor: string | null }> {
      if (filter.after !== undefined && !isUuid(filter.after)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
      const rows = await prisma.resource.findMany({
        where: filter.after ? { id: { gt: filter.after } } : {},
        orderBy: { id: 'asc' },
        take: filter.limit + 1,
      });
      const { page, nextCursor } = splitPage(rows, filter.limit, (row) => row.id);
      return { resources: page.map(toResource), nextCursor };
    },

    async getResource(id: string): Promise<Resource | null> {
      if (!isUuid(id)) return null;
      const row = await prisma.resource.findUnique({ where: { id } });
      return row ? toResource(row) : null;
    },

    async findResourceByIdentifier(identifier: string): Promise<Resource | null> {
      // A NUL byte or lone surrogate names no API (and Postgres would refuse the query): invalid_target, not a 500.
      if (!isStorableText(identifier)) return null;
      const row = await prisma.resource.findUnique({ where: { identifier } });
      return row ? toResource(row) : null;
    },
  };
}

export type ResourceService = ReturnType<typeof createResourceService>;

function toResource(row: {
  id: string;
  identifier: string;
  name: string;
  scopes: unknown;
  accessTokenTtl: number;
  rbac: boolean;
  permissionsClaim: boolean;
}): Resource {
  return {
    id: row.id,
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes as Resource['scopes'],
    accessTokenTtl: row.accessTokenTtl,
    rbac: row.rbac,
    permissionsClaim: row.permissionsClaim,
  };
}

async function forgetRemovedScopes(tx: Prisma.TransactionClient, resourceId: string, identifier: string, kept: string[]): Promise<void> {
  await tx.rolePermission.deleteMany({ where: { resourceId, scope: { notIn: kept } } });
  await removeClientGrants(tx, identifier, kept);
}

/**
 * Takes an API (kept = null) or the scopes not in `kept` out of every
 * client's `api_access`.
 */
async function removeClientGrants(tx: Prisma.TransactionClient, identifier: string, kept: string[] | null): Promise<void> {
  const filter = JSON.stringify([{ resource: identifier }]);
  const clients = await tx.$queryRaw<{ id: string; metadata: Record<string, unknown> }[]>`
    SELECT id, metadata FROM clients WHERE metadata->'api_access' @> ${filter}::jsonb FOR UPDATE`;
  for (const client of clients) {
    const grants = (client.metadata.api_access as { resource: string; scopes: string[] }[])
      .map((grant) =>
        grant.resource !== identifier
          ? grant
          : kept === null
            ? null
            : { ...grant, scopes: grant.scopes.filter((scope) => kept.includes(scope)) },
      )
      .filter((grant): grant is { resource: string; scopes: string[] } => grant !== null);
    await tx.client.update({
      where: { id: client.id },
      data: { metadata: { ...client.metadata, api_access: grants } as Prisma.InputJsonObject },
    });
  }
  if (clients.length) await notifyChange(notifierFor(tx), 'clients');
}
