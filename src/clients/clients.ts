import { randomBytes } from 'node:crypto';
import type { PrismaClient } from '../db/prisma.js';
import { Prisma } from '../db/prisma.js';
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
      const secret = metadata.token_endpoint_auth_method === 'none' ? undefined : generateClientSecret();
      try {
        await prisma.client.create({
          data: { id: clientId, metadata, secretHash: secret ? hashClientSecret(secret, secretKey) : null },
        });
      } catch (error) {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw new AppError(409, 'client_exists', `client_id ${clientId} is already registered`);
        }
        throw error;
      }
      return { client_id: clientId, ...metadata, ...(secret ? { client_secret: secret } : {}) };
    },

    async findStoredClient(clientId: string): Promise<StoredClient | null> {
      const row = await prisma.client.findUnique({ where: { id: clientId } });
      if (!row) return null;
      return { metadata: row.metadata as Record<string, unknown>, secretHash: row.secretHash };
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
