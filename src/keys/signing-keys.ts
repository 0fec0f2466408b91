import { generateKeyPair as generateKeyPairCallback, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { seal, unseal } from './encryption.js';

const generateKeyPair = promisify(generateKeyPairCallback);

export type KeyStatus = 'next' | 'current' | 'retired';

/** A private JWK as oidc-provider's `jwks` option takes it. */
export interface PrivateJwk {
  kty: string;
  kid: string;
  alg: string;
  use: 'sig';
  [parameter: string]: unknown;
}

export interface SigningKeySet {
  /** Keys to hand to oidc-provider, the signing (`current`) key first. */
  readonly keys: PrivateJwk[];
}

const PRIVATE_PARAMETERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;

export async function generateRsaSigningKey(modulusLength: number): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPair('rsa', { modulusLength });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kty: 'RSA', kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

export function publicPart(jwk: PrivateJwk): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...jwk };
  for (const parameter of PRIVATE_PARAMETERS) delete copy[parameter];
  return copy;
}

/**
 * Makes sure a `current` RS256 key exists (first start), generating and
 * storing one encrypted. Serialised by an advisory transaction lock so that
 * instances starting together create exactly one.
 */
export async function ensureSigningKey(prisma: PrismaClient, encryptionKey: Buffer, modulusLength: number): Promise<void> {
  const existing = await prisma.signingKey.count({ where: { status: 'current', alg: 'RS256' } });
  if (existing > 0) return;
  const jwk = await generateRsaSigningKey(modulusLength);
  await prisma.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(72707072)`;
    if ((await tx.signingKey.count({ where: { status: 'current', alg: 'RS256' } })) > 0) return;
    await tx.signingKey.create({
      data: {
        kid: jwk.kid,
        alg: jwk.alg,
        status: 'current',
        publicJwk: publicPart(jwk) as Prisma.InputJsonObject,
        encryptedPrivateJwk: seal(JSON.stringify(jwk), encryptionKey, jwk.kid),
        activatedAt: new Date(),
      },
    });
  });
}

/**
 * Loads the published keys, decrypting their private parts. Throws UnsealError
 * when GATEHOUSE_SECRET does not match: never silently
 * replaces keys that resource servers trust.
 */
export async function loadSigningKeys(prisma: PrismaClient, encryptionKey: Buffer): Promise<SigningKeySet> {
  const rows = await prisma.signingKey.findMany({ orderBy: { createdAt: 'asc' } });
  const order: Record<string, number> = { current: 0, next: 1, retired: 2 };
  const keys = rows
    .sort((a, b) => (order[a.status] ?? 3) - (order[b.status] ?? 3))
    .map((row) => JSON.parse(unseal(row.encryptedPrivateJwk, encryptionKey, row.kid)) as PrivateJwk);
  if (keys.length === 0) throw new Error('no signing key in the database');
  return { keys };
}
