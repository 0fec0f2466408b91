import { z } from 'zod';
import type { PrismaClient } from '../db/prisma.js';
import { Prisma } from '../db/prisma.js';
import { notifyChange } from '../db/change-notifications.js';
import { AppError } from '../http/errors.js';
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

export const newResourceSchema = z
  .object({
    identifier: z.url({ error: 'must be an absolute URI' }).refine((value) => !value.includes('#'), 'must not contain a fragment (RFC 8707 §2)'),
    name: z.string().min(1).max(200),
    scopes: z
      .array(z.union([scopeName.transform((name) => ({ name })), z.object({ name: scopeName, description: z.string().max(500).optional() }).strict()]))
      .default([]),
    access_token_ttl: z.number().int().min(30).max(86400).default(600),
  })
  .strict();

export function createResourceService(prisma: PrismaClient) {
  return {
    async createResource(input: z.input<typeof newResourceSchema>): Promise<Resource> {
      const parsed = newResourceSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AppError(400, 'invalid_request', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
      }
      const { identifier, name, scopes, access_token_ttl } = parsed.data;
      try {
        const row = await prisma.$transaction(async (tx) => {
          const created = await tx.resource.create({ data: { identifier, name, scopes, accessTokenTtl: access_token_ttl } });
          // Instances that cached "no such API" must look again.
          await notifyChange(notifierFor(tx), 'resources');
          return created;
        });
        return toResource(row);
      } catch (error) {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw new AppError(409, 'resource_exists', `${identifier} is already registered`);
        }
        throw error;
      }
    },

    /** Creates the resource, or brings its name, scopes and lifetime up to date (for built-in APIs). */
    async ensureResource(input: { identifier: string; name: string; scopes: { name: string; description?: string }[]; accessTokenTtl: number }): Promise<Resource> {
      const data = { name: input.name, scopes: input.scopes, accessTokenTtl: input.accessTokenTtl };
      return toResource(await prisma.resource.upsert({ where: { identifier: input.identifier }, create: { identifier: input.identifier, ...data }, update: data }));
    },

    async findResourceByIdentifier(identifier: string): Promise<Resource | null> {
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
