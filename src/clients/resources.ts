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
}

const scopeName = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token');
const scopes = z.array(
  z.union([scopeName.transform((name) => ({ name })), z.object({ name: scopeName, description: z.string().max(500).optional() }).strict()]),
).max(200);

export const newResourceSchema = z
  .object({
    identifier: z.url({ error: 'must be an absolute URI' }).refine((value) => !value.includes('#'), 'must not contain a fragment (RFC 8707 §2)'),
    name: z.string().min(1).max(200),
    scopes: scopes.default([]),
    access_token_ttl: z.number().int().min(30).max(86400).default(600),
  })
  .strict();

/** What may change: not the identifier, which tokens already carry as their audience. */
export const resourceChangesSchema = z
  .object({ name: z.string().min(1).max(200).optional(), scopes: scopes.optional(), access_token_ttl: z.number().int().min(30).max(86400).optional() })
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
      const { identifier, name, scopes: scopeList, access_token_ttl } = parseOrThrow(newResourceSchema, input);
      try {
        return toResource(await changeResources((tx) => tx.resource.create({ data: { identifier, name, scopes: scopeList, accessTokenTtl: access_token_ttl } })));
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError(409, 'resource_exists', `${identifier} is already registered`);
        throw error;
      }
    },

    async updateResource(id: string, input: z.input<typeof resourceChangesSchema>): Promise<Resource> {
      const changes = parseOrThrow(resourceChangesSchema, input);
      if (!isUuid(id) || !(await prisma.resource.findUnique({ where: { id }, select: { id: true } }))) throw notFound(id);
      return toResource(
        await changeResources((tx) =>
          tx.resource.update({
            where: { id },
            data: {
              ...(changes.name !== undefined ? { name: changes.name } : {}),
              ...(changes.scopes !== undefined ? { scopes: changes.scopes } : {}),
              ...(changes.access_token_ttl !== undefined ? { accessTokenTtl: changes.access_token_ttl } : {}),
            },
          }),
        ),
      );
    },

    async deleteResource(id: string): Promise<void> {
      if (!isUuid(id)) throw notFound(id);
      const { count } = await changeResources((tx) => tx.resource.deleteMany({ where: { id } }));
      if (count === 0) throw notFound(id);
    },

    /** Creates the resource, or brings its name, scopes and lifetime up to date (for built-in APIs). */
    async ensureResource(input: { identifier: string; name: string; scopes: { name: string; description?: string }[]; accessTokenTtl: number }): Promise<Resource> {
      const data = { name: input.name, scopes: input.scopes, accessTokenTtl: input.accessTokenTtl };
      return toResource(await changeResources((tx) => tx.resource.upsert({ where: { identifier: input.identifier }, create: { identifier: input.identifier, ...data }, update: data })));
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

function toResource(row: { id: string; identifier: string; name: string; scopes: unknown; accessTokenTtl: number }): Resource {
  return {
    id: row.id,
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes as Resource['scopes'],
    accessTokenTtl: row.accessTokenTtl,
  };
}
