import { generateKeyPair as generateKeyPairCallback, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { recordEvent, SYSTEM, type AuditContext } from '../audit/events.js';
import type { Config } from '../config/config.js';
import { notifyChange } from '../db/change-notifications.js';
import type { Prisma, PrismaClient } from '../db/prisma.js';
import { AppError } from '../http/errors.js';
import { seal, unseal } from './encryption.js';
import { planKeyMaintenance, publicationOrder, type KeyState, type KeyStatus, type RotationPolicy } from './key-lifecycle.js';

const generateKeyPair = promisify(generateKeyPairCallback);

// Serialises every change to the keys table across instances.
const KEYS_LOCK_ID = 72_707_072;
// Added to the longest token lifetime before a retired key leaves the JWKS.
const CLOCK_SKEW_SECONDS = 60;

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
  /** Changes whenever a key is added, removed or changes status. */
  readonly fingerprint: string;
}

export interface KeySettings {
  readonly modulusLength: number;
  readonly rotationInterval: number;
  readonly publishLead: number;
  /** Longest lifetime, in seconds, of a token signed with these keys (ID or access token), from configuration. */
  readonly longestConfiguredTokenTtl: number;
  /** How late an instance may learn of a key change (the re-read interval): it may sign with a retired key that long. */
  readonly propagationDelay: number;
}

export interface SigningKeySummary {
  readonly kid: string;
  readonly alg: string;
  readonly status: KeyStatus;
  readonly createdAt: Date;
  readonly activatedAt: Date | null;
  readonly retiredAt: Date | null;
}

export interface MaintenanceResult {
  readonly promoted?: string;
  readonly retired?: string;
  readonly created?: string;
  readonly removed: string[];
}

const PRIVATE_PARAMETERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const;
type Transaction = Prisma.TransactionClient;

export async function generateRsaSigningKey(modulusLength: number): Promise<PrivateJwk> {
  const { privateKey } = await generateKeyPair('rsa', { modulusLength });
  return { ...privateKey.export({ format: 'jwk' }), kty: 'RSA', kid: randomUUID(), alg: 'RS256', use: 'sig' };
}

export function publicPart(jwk: PrivateJwk): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...jwk };
  for (const parameter of PRIVATE_PARAMETERS) delete copy[parameter];
  return copy;
}

/**
 * Before adding a key, proves the secret opens the keys already there: a
 * wrong GATEHOUSE_SECRET must fail loudly, not start a second, unreadable set.
 */
async function insertKey(tx: Transaction, encryptionKey: Buffer, modulusLength: number, status: KeyStatus): Promise<string> {
  const existing = await tx.signingKey.findFirst({ select: { kid: true, encryptedPrivateJwk: true } });
  if (existing) unseal(existing.encryptedPrivateJwk, encryptionKey, existing.kid);
  const jwk = await generateRsaSigningKey(modulusLength);
  await tx.signingKey.create({
    data: {
      kid: jwk.kid,
      alg: jwk.alg,
      status,
      publicJwk: publicPart(jwk) as Prisma.InputJsonObject,
      encryptedPrivateJwk: seal(JSON.stringify(jwk), encryptionKey, jwk.kid),
      activatedAt: status === 'current' ? new Date() : null,
    },
  });
  return jwk.kid;
}

/** Runs `work` holding the keys lock, and tells every instance if it changed anything. */
async function underKeysLock<T>(prisma: PrismaClient, work: (tx: Transaction) => Promise<{ result: T; changed: boolean }>): Promise<T> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock($1)', KEYS_LOCK_ID);
      const { result, changed } = await work(tx);
      if (changed) await notifyChange((sql, ...values) => tx.$executeRawUnsafe(sql, ...values), 'keys');
      return result;
    },
    { timeout: 60_000, maxWait: 60_000 },
  );
}

/**
 * First start: a `current` key to sign with and a `next` one already
 * published. Instances starting together create exactly one of each.
 * Returns true when this call created the very first key: the installation's
 * first start.
 */
export async function ensureSigningKeys(prisma: PrismaClient, encryptionKey: Buffer, modulusLength: number): Promise<boolean> {
  const statuses = new Set((await prisma.signingKey.findMany({ select: { status: true } })).map((row) => row.status));
  if (statuses.has('current') && statuses.has('next')) return false;
  return underKeysLock(prisma, async (tx) => {
    const existing = await tx.signingKey.findMany({ select: { status: true } });
    const present = new Set(existing.map((row) => row.status));
    let changed = false;
    for (const status of ['current', 'next'] as const) {
      if (present.has(status)) continue;
      await insertKey(tx, encryptionKey, modulusLength, status);
      changed = true;
    }
    return { result: existing.length === 0, changed };
  });
}

/**
 * Loads the published keys, decrypting their private parts. Throws UnsealError
 * when GATEHOUSE_SECRET does not match: never silently replaces keys that
 * resource servers trust.
 */
export async function loadSigningKeys(prisma: PrismaClient, encryptionKey: Buffer): Promise<SigningKeySet> {
  const rows = inPublicationOrder(await prisma.signingKey.findMany({ orderBy: { createdAt: 'asc' } }));
  if (!rows.some((row) => row.status === 'current')) throw new Error('no current signing key in the database');
  return {
    keys: rows.map((row) => JSON.parse(unseal(row.encryptedPrivateJwk, encryptionKey, row.kid)) as PrivateJwk),
    fingerprint: rows.map((row) => `${row.kid}:${row.status}`).join(','),
  };
}

export async function listSigningKeys(prisma: PrismaClient): Promise<SigningKeySummary[]> {
  const rows = await prisma.signingKey.findMany({
    select: { kid: true, alg: true, status: true, createdAt: true, activatedAt: true, retiredAt: true },
    orderBy: { createdAt: 'asc' },
  });
  return inPublicationOrder(rows.map((row) => ({ ...row, status: row.status as KeyStatus })));
}

/** Signing key first, then next, then retired; oldest first within each. */
function inPublicationOrder<T extends { status: string }>(rows: T[]): T[] {
  return rows.sort((a, b) => publicationOrder(a.status) - publicationOrder(b.status));
}

/**
 * Applies the lifecycle (key-lifecycle.ts) under the keys lock: promotes and
 * retires on schedule (or now, with `force`), keeps a `next` key published,
 * and removes retired keys whose tokens have all expired. Racing instances
 * serialise on the lock and the later one finds nothing left to do.
 */
export async function maintainSigningKeys(
  prisma: PrismaClient,
  encryptionKey: Buffer,
  settings: KeySettings,
  options: { force?: boolean; now?: Date; audit?: AuditContext } = {},
): Promise<MaintenanceResult> {
  return underKeysLock(prisma, async (tx) => {
    const now = options.now ?? new Date();
    const keys = (await tx.signingKey.findMany()).map((row): KeyState => ({ ...row, status: row.status as KeyStatus }));
    const plan = planKeyMaintenance(keys, now, await rotationPolicy(tx, settings), options);
    if (options.force && !plan.promote) {
      throw new AppError(
        409,
        'rotation_too_soon',
        plan.promotableAt
          ? `the next key has not been published long enough; it may sign from ${plan.promotableAt.toISOString()}`
          : 'there is no next key to promote yet',
      );
    }
    if (plan.retire) await tx.signingKey.update({ where: { kid: plan.retire }, data: { status: 'retired', retiredAt: now } });
    if (plan.promote) await tx.signingKey.update({ where: { kid: plan.promote }, data: { status: 'current', activatedAt: now } });
    const created = plan.createNext ? await insertKey(tx, encryptionKey, settings.modulusLength, 'next') : undefined;
    if (plan.promote) {
      await recordEvent(tx, options.audit ?? SYSTEM, {
        type: 'key.rotated',
        subject: plan.promote,
        details: { retired: plan.retire ?? null, next: created ?? null, on_request: Boolean(options.force) },
      });
    }
    if (plan.remove.length) await tx.signingKey.deleteMany({ where: { kid: { in: plan.remove }, status: 'retired' } });
    await assertKeyInvariants(tx);
    const result: MaintenanceResult = { promoted: plan.promote, retired: plan.retire, created, removed: plan.remove };
    return { result, changed: Boolean(plan.promote || created || plan.remove.length) };
  });
}

/** Exactly one current and at most one next key, or the transaction rolls back. */
async function assertKeyInvariants(tx: Transaction): Promise<void> {
  const counts = await tx.signingKey.groupBy({ by: ['alg', 'status'], _count: { _all: true } });
  for (const { alg, status, _count } of counts) {
    if (status !== 'retired' && _count._all > 1) throw new Error(`signing keys: ${_count._all} ${status} ${alg} keys`);
  }
  if (!counts.some((row) => row.status === 'current')) throw new Error('signing keys: no current key');
}

/** The retention covers the longest-lived token: configured TTLs and every registered API's TTL. */
async function rotationPolicy(tx: Transaction, settings: KeySettings): Promise<RotationPolicy> {
  const { _max } = await tx.resource.aggregate({ _max: { accessTokenTtl: true } });
  const longest = Math.max(settings.longestConfiguredTokenTtl, _max.accessTokenTtl ?? 0);
  return {
    rotationInterval: settings.rotationInterval,
    publishLead: settings.publishLead,
    retiredRetention: longest + settings.propagationDelay + CLOCK_SKEW_SECONDS,
  };
}

/** Re-seals every private key under a new key-encryption key (after changing GATEHOUSE_SECRET). */
export async function reencryptSigningKeys(prisma: PrismaClient, oldKey: Buffer, newKey: Buffer): Promise<number> {
  return underKeysLock(prisma, async (tx) => {
    const rows = await tx.signingKey.findMany();
    for (const row of rows) {
      const plaintext = unseal(row.encryptedPrivateJwk, oldKey, row.kid);
      await tx.signingKey.update({ where: { kid: row.kid }, data: { encryptedPrivateJwk: seal(plaintext, newKey, row.kid) } });
    }
    return { result: rows.length, changed: false };
  });
}

/** The key settings that follow from configuration. */
export function keySettingsFrom(config: Config): KeySettings {
  return {
    modulusLength: config.signingKeyBits,
    rotationInterval: config.keys.rotationInterval,
    publishLead: config.keys.publishLead,
    longestConfiguredTokenTtl: Math.max(config.ttl.idToken, config.ttl.accessToken),
    propagationDelay: config.keys.checkInterval,
  };
}

/** Key operations bound to one database and secret: what the server, CLI and (later) admin API call. */
/**
 * Throws UnsealError when stored keys exist and `encryptionKey` cannot open
 * them (a wrong GATEHOUSE_SECRET): checked at start before anything changes.
 */
export async function verifyKeyEncryptionKey(prisma: PrismaClient, encryptionKey: Buffer): Promise<void> {
  const row = await prisma.signingKey.findFirst({ orderBy: { createdAt: 'desc' } });
  if (row) unseal(row.encryptedPrivateJwk, encryptionKey, row.kid);
}

export function createKeyService(prisma: PrismaClient, encryptionKey: Buffer, settings: KeySettings) {
  return {
    verifySecret: () => verifyKeyEncryptionKey(prisma, encryptionKey),
    ensure: () => ensureSigningKeys(prisma, encryptionKey, settings.modulusLength),
    load: () => loadSigningKeys(prisma, encryptionKey),
    list: () => listSigningKeys(prisma),
    /** Rotates now (an operator's request): 409 rotation_too_soon if the next key is not yet promotable. */
    rotate: (audit?: AuditContext) => maintainSigningKeys(prisma, encryptionKey, settings, { force: true, audit }),
    /** The scheduled lifecycle step; `now` for tests of the schedule. */
    maintain: (now?: Date) => maintainSigningKeys(prisma, encryptionKey, settings, { now }),
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
