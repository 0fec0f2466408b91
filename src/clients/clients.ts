import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../db/prisma.js';
import { Prisma } from '../db/prisma.js';
import { notifyChange, type Notifier } from '../db/change-notifications.js';
import { AppError } from '../http/errors.js';
import { clientMetadataSchema, type ClientMetadata, type ClientMetadataInput } from './client-metadata.js';
import { generateClientSecret, hashClientSecret } from './client-secrets.js';

export interface RegisteredClient extends Omit<ClientMetadata, 'client_id'> {
  readonly client_id: string;
  /** Present once, at registration, for confidential clients. */
  readonly client_secret?: string;
}

/** What oidc-provider reads through the adapter: metadata plus the secret's hash. */
export interface StoredClient {
  readonly metadata: Record<string, unknown>;
  readonly secretHash: string | null;
}

export function createClientService(prisma: PrismaClient, secretKey: Buffer) {
  return {
    /**
     * Registers a client from RFC 7591 metadata. Confidential clients get a
     * generated secret, returned here once and stored only as a keyed hash.
     */
    async registerClient(input: ClientMetadataInput): Promise<RegisteredClient> {
      const parsed = clientMetadataSchema.safeParse(input);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const code = issue?.path[0] === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata';
        throw new AppError(400, code, `${issue?.path.join('.') || 'metadata'}: ${issue?.message ?? 'invalid'}`);
      }
      const { client_id: requestedId, ...metadata } = parsed.data;
      const clientId = requestedId ?? randomBytes(16).toString('base64url');
      const secret = usesSecret(metadata.token_endpoint_auth_method) ? generateClientSecret() : undefined;
      try {
        await prisma.$transaction(async (tx) => {
          await tx.client.create({
            data: { id: clientId, metadata: metadata as Prisma.InputJsonObject, secretHash: secret ? hashClientSecret(secret, secretKey) : null },
          });
          // Instances that cached "no such client" must look again.
          await notifyChange(notifierFor(tx), 'clients');
        });
      } catch (error) {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw new AppError(409, 'client_exists', `client_id ${clientId} is already registered`);
        }
        throw error;
      }
      return { client_id: clientId, ...metadata, ...(secret ? { client_secret: secret } : {}) };
    },

    /**
     * Replaces a confidential client's secret; the old one stops working at
     * every instance once they hear the change (LISTEN/NOTIFY). Returns the new
     * secret, shown once.
     */
    async rotateClientSecret(clientId: string): Promise<{ client_id: string; client_secret: string }> {
      const secret = generateClientSecret();
      await prisma.$transaction(async (tx) => {
        const row = await tx.client.findUnique({ where: { id: clientId } });
        if (!row) throw new AppError(404, 'client_not_found', `no client ${clientId}`);
        const method = (row.metadata as { token_endpoint_auth_method?: string }).token_endpoint_auth_method;
        if (!usesSecret(method)) throw new AppError(400, 'invalid_client_metadata', `client ${clientId} does not authenticate with a secret`);
        await tx.client.update({ where: { id: clientId }, data: { secretHash: hashClientSecret(secret, secretKey) } });
        await notifyChange(notifierFor(tx), 'clients');
      });
      return { client_id: clientId, client_secret: secret };
    },

    /** Deletes a client; it stops authenticating at every instance. Tokens it holds then introspect as inactive. */
    async deleteClient(clientId: string): Promise<void> {
      await prisma.$transaction(async (tx) => {
        const { count } = await tx.client.deleteMany({ where: { id: clientId } });
        if (count === 0) throw new AppError(404, 'client_not_found', `no client ${clientId}`);
        await notifyChange(notifierFor(tx), 'clients');
      });
    },

    async findStoredClient(clientId: string): Promise<StoredClient | null> {
      const row = await prisma.client.findUnique({ where: { id: clientId } });
      if (!row) return null;
      return { metadata: row.metadata as Record<string, unknown>, secretHash: row.secretHash };
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;

/** client_secret_basic and client_secret_post; RFC 7591 §2 defaults to basic. */
function usesSecret(method: string | undefined): boolean {
  return method === undefined || method === 'client_secret_basic' || method === 'client_secret_post';
}

/** notifyChange through a Prisma transaction, so the notice is sent on commit only. */
export function notifierFor(tx: Pick<Prisma.TransactionClient, '$executeRawUnsafe'>): Notifier {
  return (sql, ...values) => tx.$executeRawUnsafe(sql, ...values);
}
