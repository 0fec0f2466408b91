import { createSecretKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrismaClient } from '../../src/db/prisma.js';
import { UnsealError } from '../../src/keys/encryption.js';
import { createKeyService, loadSigningKeys, reencryptSigningKeys, type KeySettings } from '../../src/keys/signing-keys.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { createMigratedDatabase } from '../support/services.js';

const PRIVATE_PARAMETERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
const DAY = 86400_000;
const settings: KeySettings = {
  modulusLength: 2048,
  rotationInterval: 30 * 86400,
  publishLead: 86400,
  longestConfiguredTokenTtl: 3600,
  propagationDelay: 60,
};

describe('signing key store', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let encryptionKey = createSecretKey(randomBytes(32));
  let keys: ReturnType<typeof createKeyService>;

  beforeAll(async () => {
    database = await createMigratedDatabase();
    keys = createKeyService(database.prisma, encryptionKey, settings);
  });
  afterAll(() => database?.drop());

  const statuses = async () => (await keys.list()).map((key) => key.status);

  it('instances starting together create exactly one current and one next key', async () => {
    await Promise.all([1, 2, 3].map(() => keys.ensure()));
    expect(await statuses()).toEqual(['current', 'next']);
    await keys.ensure();
    expect(await database.prisma.signingKey.count()).toBe(2);
  });

  it('loads every published key with the signing key first; the table holds no private parameter in the clear', async () => {
    const { keys: loaded, fingerprint } = await keys.load();
    const listed = await keys.list();
    expect(loaded.map((key) => key.kid)).toEqual(listed.map((key) => key.kid));
    expect(fingerprint).toBe(listed.map((key) => `${key.kid}:${key.status}`).join(','));
    expect(loaded[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', d: expect.any(String) });
    const dump = JSON.stringify(await database.prisma.$queryRawUnsafe('SELECT * FROM signing_keys'));
    for (const jwk of loaded) {
      for (const parameter of PRIVATE_PARAMETERS) {
        expect(dump).not.toContain(`"${parameter}"`);
        expect(dump).not.toContain(jwk[parameter] as string);
      }
    }
  });

  it('refuses an on-demand rotation while the next key is younger than the lead time', async () => {
    await expect(keys.rotate()).rejects.toMatchObject({ status: 409, code: 'rotation_too_soon' });
    expect(await statuses()).toEqual(['current', 'next']);
  });

  it('two instances racing a due rotation rotate once', async () => {
    const [before] = await keys.list();
    const [, next] = await keys.list();
    const other = createPrismaClient(database.databaseUrl);
    const otherKeys = createKeyService(other, encryptionKey, settings);
    const due = new Date(Date.now() + 31 * DAY);
    const results = await Promise.all([keys.maintain(due), otherKeys.maintain(due)]);
    await other.$disconnect();
    expect(results.filter((result) => result.promoted)).toHaveLength(1);
    const after = await keys.list();
    expect(after.map((key) => key.status)).toEqual(['current', 'next', 'retired']);
    expect(after[0]?.kid).toBe(next?.kid);
    expect(after[2]?.kid).toBe(before?.kid);
  });

  it('removes a retired key from the JWKS once every token it signed has expired', async () => {
    const retired = (await keys.list()).find((key) => key.status === 'retired');
    const soon = new Date((retired?.retiredAt?.getTime() ?? 0) + 3600_000);
    expect((await keys.maintain(soon)).removed).toEqual([]);
    const later = new Date((retired?.retiredAt?.getTime() ?? 0) + 3720_000); // TTL + propagation delay + skew
    expect((await keys.maintain(later)).removed).toEqual([retired?.kid]);
    expect(await statuses()).toEqual(['current', 'next']);
  });

  it('keeps a retired key as long as the longest-lived registered API token', async () => {
    await database.prisma.resource.create({ data: { identifier: 'https://long.example/', name: 'Long', accessTokenTtl: 86400 } });
    const due = new Date(Date.now() + 62 * DAY);
    await keys.maintain(due);
    const retired = (await keys.list()).find((key) => key.status === 'retired');
    expect((await keys.maintain(new Date((retired?.retiredAt?.getTime() ?? 0) + 3660_000))).removed).toEqual([]);
    expect((await keys.maintain(new Date((retired?.retiredAt?.getTime() ?? 0) + 86460_000))).removed).toEqual([]);
    expect((await keys.maintain(new Date((retired?.retiredAt?.getTime() ?? 0) + 86520_000))).removed).toEqual([retired?.kid]);
  });

  it('refuses to load, or to add keys, with another secret instead of replacing the keys', async () => {
    const count = await database.prisma.signingKey.count();
    const wrongSecret = createKeyService(database.prisma, createSecretKey(randomBytes(32)), settings);
    await expect(wrongSecret.load()).rejects.toBeInstanceOf(UnsealError);
    await expect(wrongSecret.maintain(new Date(Date.now() + 365 * DAY))).rejects.toBeInstanceOf(UnsealError);
    await database.prisma.signingKey.deleteMany({ where: { status: 'next' } });
    await expect(wrongSecret.ensure()).rejects.toBeInstanceOf(UnsealError);
    expect(await database.prisma.signingKey.count()).toBe(count - 1);
    await keys.ensure();
    expect(await database.prisma.signingKey.count()).toBe(count);
  });

  it('a server started with the wrong GATEHOUSE_SECRET fails clearly', async () => {
    await expect(
      startTestGatehouse(database.databaseUrl, { GATEHOUSE_SECRET: 'a-different-secret-of-32-characters-or-more' }),
    ).rejects.toThrow(/wrong GATEHOUSE_SECRET/);
  });

  it('re-encrypts every key under a new secret', async () => {
    const before = await keys.load();
    const newKey = createSecretKey(randomBytes(32));
    expect(await reencryptSigningKeys(database.prisma, encryptionKey, newKey)).toBe(before.keys.length);
    await expect(loadSigningKeys(database.prisma, encryptionKey)).rejects.toBeInstanceOf(UnsealError);
    expect((await loadSigningKeys(database.prisma, newKey)).keys).toEqual(before.keys);
    encryptionKey = newKey;
  });
});
