import { randomBytes, type KeyObject } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { isStorableText } from '../http/storable-text.js';
import { recordEvent, SYSTEM, type AuditContext } from '../audit/events.js';
import { notifyChange, type Notifier } from '../db/change-notifications.js';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { isUniqueViolation, splitPage } from '../db/prisma.js';
import { AppError, parseOrThrow } from '../http/errors.js';
import { revokeByClient } from '../oidc/prisma-adapter.js';
import { clientMetadataSchema, type ClientMetadata, type ClientMetadataInput } from './client-metadata.js';
import { generateClientSecret, hashClientSecret } from './client-secrets.js';

export interface RegisteredClient extends Omit<ClientMetadata, 'client_id'> {
  readonly client_id: string;
  /** Present once, at registration or secret rotation, for confidential clients. */
  readonly client_secret?: string;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** A client as the admin API and CLI show it: metadata, never the secret or its hash. */
export interface ClientRecord extends Omit<ClientMetadata, 'client_id'> {
  readonly client_id: string;
  readonly created_at: Date;
  readonly updated_at: Date;
}

/** What oidc-provider reads through the adapter: metadata plus the secret's hash. */
export interface StoredClient {
  readonly metadata: Record<string, unknown>;
  readonly secretHash: string | null;
}

/** RFC 7591 §3.2.2: a bad redirect URI has its own error code. */
export const metadataErrorCode = (field: string) =>
  field.startsWith('redirect_uris') || field.startsWith('post_logout_redirect_uris') ? 'invalid_redirect_uri' : 'invalid_client_metadata';
const notFound = (clientId: string) => new AppError(404, 'not_found', `no client ${clientId}`);

export function createClientService(prisma: PrismaClient, secretKey: KeyObject) {
  const service = {
    /**
     * Registers a client from RFC 7591 metadata. Confidential clients get a
     * generated secret, returned here once and stored only as a keyed hash.
     */
    async registerClient(input: ClientMetadataInput, audit: AuditContext = SYSTEM): Promise<RegisteredClient> {
      const { client_id: requestedId, ...metadata } = parseOrThrow(clientMetadataSchema, input, metadataErrorCode);
      const clientId = requestedId ?? generateClientId();
      const secret = usesSecret(metadata.token_endpoint_auth_method) ? generateClientSecret() : undefined;
      let created: { createdAt: Date; updatedAt: Date };
      try {
        created = await prisma.$transaction(async (tx) => {
          await checkApiAccess(tx, metadata.api_access);
          const row = await tx.client.create({
            data: {
              id: clientId,
              metadata: metadata as Prisma.InputJsonObject,
              secretHash: secret ? hashClientSecret(secret, secretKey) : null,
            },
          });
          await recordEvent(tx, audit, {
            type: 'client.created',
            subject: clientId,
            details: { grant_types: metadata.grant_types, api_access: metadata.api_access },
          });
          // Instances that cached "no such client" must look again.
          await notifyChange(notifierFor(tx), 'clients');
          return row;
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw new AppError(409, 'client_exists', `client_id ${clientId} is already registered`);
        throw error;
      }
      return {
        client_id: clientId,
        ...metadata,
        ...(secret ? { client_secret: secret } : {}),
        created_at: created.createdAt,
        updated_at: created.updatedAt,
      };
    },

    /**
     * Changes a client's metadata: the result is validated as a whole, like a
     * registration. A client cannot switch between secret and no secret.
     */
    async updateClient(
      clientId: string,
      changes: { [K in keyof Omit<ClientMetadataInput, 'client_id'>]?: ClientMetadataInput[K] | null },
      audit: AuditContext = SYSTEM,
    ): Promise<ClientRecord> {
      const row = isStorableText(clientId) ? await prisma.client.findUnique({ where: { id: clientId } }) : null;
      if (!row) throw notFound(clientId);
      const { response_types: derived, ...stored } = row.metadata as ClientMetadataInput;
      // response_types follows grant_types unless the change names it (it was derived at registration).
      const current = changes.grant_types && !changes.response_types ? stored : { ...stored, response_types: derived };
      // A field changed to null is removed (the PATCH schema allows null only for optional fields).
      const merged = Object.fromEntries(Object.entries({ ...current, ...changes }).filter(([, value]) => value !== null));
      const { client_id: _id, ...metadata } = parseOrThrow(clientMetadataSchema, { ...merged, client_id: clientId }, metadataErrorCode);
      if (usesSecret(metadata.token_endpoint_auth_method) !== usesSecret(current.token_endpoint_auth_method)) {
        throw new AppError(
          400,
          'invalid_client_metadata',
          'token_endpoint_auth_method cannot switch between a secret and none/private_key_jwt; register a new client',
        );
      }
      const updated = await prisma.$transaction(async (tx) => {
        await checkApiAccess(tx, metadata.api_access);
        const saved = await tx.client.update({ where: { id: clientId }, data: { metadata: metadata as Prisma.InputJsonObject } });
        await recordEvent(tx, audit, { type: 'client.updated', subject: clientId, details: { fields: Object.keys(changes) } });
        const before = (row.metadata as { api_access?: unknown }).api_access ?? [];
        if (JSON.stringify(before) !== JSON.stringify(metadata.api_access)) {
          await recordEvent(tx, audit, {
            type: 'client.grants_changed',
            subject: clientId,
            details: { before, after: metadata.api_access },
          });
        }
        await notifyChange(notifierFor(tx), 'clients');
        return saved;
      });
      return toRecord(updated);
    },

    /**
     * Replaces a confidential client's secret; the old one stops working at
     * every instance once they hear the change (LISTEN/NOTIFY). Returns the new
     * secret, shown once.
     */
    async rotateClientSecret(clientId: string, audit: AuditContext = SYSTEM): Promise<{ client_id: string; client_secret: string }> {
      const secret = generateClientSecret();
      if (!isStorableText(clientId)) throw notFound(clientId);
      await prisma.$transaction(async (tx) => {
        const row = await tx.client.findUnique({ where: { id: clientId } });
        if (!row) throw notFound(clientId);
        const method = (row.metadata as { token_endpoint_auth_method?: string }).token_endpoint_auth_method;
        if (!usesSecret(method))
          throw new AppError(400, 'invalid_client_metadata', `client ${clientId} does not authenticate with a secret`);
        await tx.client.update({ where: { id: clientId }, data: { secretHash: hashClientSecret(secret, secretKey) } });
        await recordEvent(tx, audit, { type: 'client.secret_rotated', subject: clientId });
        await notifyChange(notifierFor(tx), 'clients');
      });
      return { client_id: clientId, client_secret: secret };
    },

    /**
     * Deletes a client with its grants, codes and tokens; it stops
     * authenticating at every instance, and its JWT access tokens introspect as
     * inactive.
     */
    async deleteClient(clientId: string, audit: AuditContext = SYSTEM): Promise<void> {
      if (!isStorableText(clientId)) throw notFound(clientId);
      await prisma.$transaction(async (tx) => {
        const { count } = await tx.client.deleteMany({ where: { id: clientId } });
        if (count === 0) throw notFound(clientId);
        // Its grants, codes and tokens go; the record of revoked JWTs stays until they expire.
        const revoked = await revokeByClient(tx, clientId);
        await recordEvent(tx, audit, { type: 'client.deleted', subject: clientId, details: { revoked } });
        await notifyChange(notifierFor(tx), 'clients');
      });
    },

    /**
     * Makes sure a client exists with exactly this metadata and secret (for
     * the admin bootstrap client and Gatehouse's own pages' clients, at every
     * start): creates it, or replaces metadata and secret. One already so is
     * left alone, so a restart does not tell every other instance to drop its
     * cached clients.
     */
    async ensureClient(clientId: string, input: Omit<ClientMetadataInput, 'client_id'>, secret: string): Promise<void> {
      const { client_id: _id, ...metadata } = parseOrThrow(clientMetadataSchema, { ...input, client_id: clientId }, metadataErrorCode);
      const data = { metadata: metadata as Prisma.InputJsonObject, secretHash: hashClientSecret(secret, secretKey) };
      await prisma.$transaction(async (tx) => {
        await checkApiAccess(tx, metadata.api_access);
        const stored = await tx.client.findUnique({ where: { id: clientId }, select: { metadata: true, secretHash: true } });
        // As stored (JSON drops what is undefined; jsonb's key order does not matter here).
        const unchanged =
          stored?.secretHash === data.secretHash && isDeepStrictEqual(stored.metadata, JSON.parse(JSON.stringify(metadata)));
        if (unchanged) return;
        await tx.client.upsert({ where: { id: clientId }, create: { id: clientId, ...data }, update: data });
        await notifyChange(notifierFor(tx), 'clients');
      });
    },

    /**
     * Adds a grant (CLI `clients grant`): these scopes of this API join what
     * the client may already ask for there.
     */
    async grantApiAccess(
      clientId: string,
      resource: string,
      scopes: readonly string[],
      audit: AuditContext = SYSTEM,
    ): Promise<ClientRecord> {
      const current = await service.getClient(clientId);
      if (!current) throw notFound(clientId);
      const grants = current.api_access ?? [];
      const existing = grants.find((grant) => grant.resource === resource);
      const merged = existing
        ? grants.map((grant) => (grant === existing ? { resource, scopes: [...new Set([...grant.scopes, ...scopes])] } : grant))
        : [...grants, { resource, scopes: [...new Set(scopes)] }];
      return service.updateClient(clientId, { api_access: merged }, audit);
    },

    /** Page of clients ordered by id; `after` is the last id of the previous page. */
    /** `search` matches the client id or name, any case. */
    async listClients(filter: {
      limit: number;
      after?: string;
      search?: string;
    }): Promise<{ clients: ClientRecord[]; nextCursor: string | null }> {
      if (filter.after !== undefined && !isStorableText(filter.after)) throw new AppError(400, 'invalid_request', 'cursor is not valid');
      if (filter.search !== undefined && !isStorableText(filter.search)) throw new AppError(400, 'invalid_request', 'search is not valid');
      const pattern = filter.search ? `%${filter.search.replace(/[\\%_]/g, (character) => `\\${character}`)}%` : undefined;
      // The ids of this page's matches only (after the cursor, at most a page and one): the trigram
      // indexes clients_id_trgm_idx and clients_name_trgm_idx serve both ILIKEs (the name's matches the
      // expression `metadata->>'client_name'` as written here). '' sorts before every id.
      const matching = pattern
        ? (
            await prisma.$queryRaw<{ id: string }[]>`
              SELECT id FROM clients
               WHERE (id ILIKE ${pattern} OR metadata->>'client_name' ILIKE ${pattern}) AND id > ${filter.after ?? ''}
               ORDER BY id LIMIT ${filter.limit + 1}`
          ).map((row) => row.id)
        : undefined;
      const rows = await prisma.client.findMany({
        where: { id: { ...(filter.after ? { gt: filter.after } : {}), ...(matching ? { in: matching } : {}) } },
        orderBy: { id: 'asc' },
        take: filter.limit + 1,
      });
      const { page, nextCursor } = splitPage(rows, filter.limit, (row) => row.id);
      return { clients: page.map(toRecord), nextCursor };
    },

    // A client id with a NUL byte or lone surrogate names no client (and Postgres would refuse the query).
    async getClient(clientId: string): Promise<ClientRecord | null> {
      if (!isStorableText(clientId)) return null;
      const row = await prisma.client.findUnique({ where: { id: clientId } });
      return row ? toRecord(row) : null;
    },

    async findStoredClient(clientId: string): Promise<StoredClient | null> {
      if (!isStorableText(clientId)) return null;
      const row = await prisma.client.findUnique({ where: { id: clientId } });
      if (!row) return null;
      return { metadata: row.metadata as Record<string, unknown>, secretHash: row.secretHash };
    },
  };
  return service;
}

export type ClientService = ReturnType<typeof createClientService>;

/**
 * Every API in `api_access` is registered and defines the scopes granted on
 * it; otherwise a 400 naming the first that is not.
 */
async function checkApiAccess(
  tx: Prisma.TransactionClient,
  grants: readonly { resource: string; scopes: readonly string[] }[],
): Promise<void> {
  if (!grants.length) return;
  const rows = await tx.resource.findMany({
    where: { identifier: { in: grants.map((grant) => grant.resource) } },
    select: { identifier: true, scopes: true },
  });
  for (const grant of grants) {
    const row = rows.find((candidate) => candidate.identifier === grant.resource);
    if (!row) throw new AppError(400, 'invalid_client_metadata', `api_access: ${grant.resource} is not a registered API`);
    const defined = new Set((row.scopes as { name: string }[]).map((scope) => scope.name));
    const unknown = grant.scopes.filter((scope) => !defined.has(scope));
    if (unknown.length)
      throw new AppError(400, 'invalid_client_metadata', `api_access: ${unknown.join(', ')} is not a scope of ${grant.resource}`);
  }
}

function toRecord(row: { id: string; metadata: unknown; createdAt: Date; updatedAt: Date }): ClientRecord {
  return {
    client_id: row.id,
    ...(row.metadata as Omit<ClientMetadata, 'client_id'>),
    created_at: row.createdAt,
    updated_at: row.updatedAt,
  };
}

/** client_secret_basic and client_secret_post; RFC 7591 §2 defaults to basic. */
function usesSecret(method: string | undefined): boolean {
  return method === undefined || method === 'client_secret_basic' || method === 'client_secret_post';
}

/** notifyChange through a Prisma transaction, so the notice is sent on commit only. */
export function notifierFor(tx: Pick<Prisma.TransactionClient, '$executeRawUnsafe'>): Notifier {
  return (sql, ...values) => tx.$executeRawUnsafe(sql, ...values);
}

/**
 * 128 random bits, base64url, never starting with `-` or `_`: an id that
 * starts with `-` reads as an option on a command line (`clients show -Abc`).
 * By construction, not by retry: when the first byte is 0xF8 or above (a
 * leading `-` or `_`), that character becomes a letter, at a cost of less
 * than 0.05 bits.
 */
export function generateClientId(bytes: Uint8Array = randomBytes(16)): string {
  const id = Buffer.from(bytes).toString('base64url');
  return id.replace(/^-/, 'M').replace(/^_/, 'Z');
}
