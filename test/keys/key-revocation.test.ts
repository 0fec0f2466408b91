import { createSecretKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createKeyService, reencryptSigningKeys, type KeySettings } from '../../src/keys/signing-keys.js';
import { createMigratedDatabase } from '../support/services.js';

const settings: KeySettings = {
  modulusLength: 2048,
  rotationInterval: 30 * 86400,
  publishLead: 86400,
  longestConfiguredTokenTtl: 3600,
  propagationDelay: 60,
};
const DAY = 86400_000;

/** The key store's emergency revocation, below HTTP (the e2e test drives it through two instances). */
describe('signing key revocation (store)', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  const encryptionKey = createSecretKey(randomBytes(32));
  let keys: ReturnType<typeof createKeyService>;

  beforeAll(async () => {
    database = await createMigratedDatabase();
    keys = createKeyService(database.prisma, encryptionKey, settings);
  });
  afterAll(() => database?.drop());
  // Every test starts from a fresh pair: a current and a young next key.
  beforeEach(async () => {
    await database.prisma.signingKey.deleteMany();
    await database.prisma.event.deleteMany();
    await keys.ensure();
  });

  const byStatus = async () => {
    const listed = await keys.list();
    return {
      current: listed.filter((key) => key.status === 'current').map((key) => key.kid),
      next: listed.filter((key) => key.status === 'next').map((key) => key.kid),
      retired: listed.filter((key) => key.status === 'retired').map((key) => key.kid),
      revoked: listed.filter((key) => key.status === 'revoked').map((key) => key.kid),
    };
  };
  const loadedKids = async () => (await keys.load()).keys.map((key) => key.kid);

  it('revoking the current key promotes the next one at once (however young), prepares a new next key, and erases the private part', async () => {
    const before = await byStatus();
    const result = await keys.revoke(before.current[0] as string, { actor: 'user:someone' });
    expect(result).toEqual({
      revoked: before.current[0],
      previousStatus: 'current',
      current: before.next[0],
      next: expect.any(String),
      created: [result.next],
    });
    expect(await byStatus()).toEqual({ current: before.next, next: [result.next], retired: [], revoked: before.current });
    expect(await loadedKids()).toEqual([before.next[0], result.next]);
    const row = await database.prisma.signingKey.findUnique({ where: { kid: before.current[0] as string } });
    expect(row).toMatchObject({ status: 'revoked', encryptedPrivateJwk: '', revokedAt: expect.any(Date) });
    const listed = (await keys.list()).find((key) => key.kid === before.current[0]);
    expect(listed?.revokedAt).toBeInstanceOf(Date);
    const events = await database.prisma.event.findMany({ where: { type: 'key.revoked' } });
    expect(events).toMatchObject([
      {
        actor: 'user:someone',
        subject: before.current[0],
        details: { previous_status: 'current', current: before.next[0], next: result.next, created: [result.next] },
      },
    ]);
  });

  it('revoking the current key when there is no next key makes a new current and a new next key', async () => {
    const before = await byStatus();
    await database.prisma.signingKey.deleteMany({ where: { status: 'next' } });
    const result = await keys.revoke(before.current[0] as string);
    expect(result.created).toHaveLength(2);
    expect(await byStatus()).toEqual({ current: [result.current], next: [result.next], retired: [], revoked: before.current });
    expect(result.created).toEqual([result.current, result.next]);
  });

  it('revoking the next key replaces it and leaves the current key signing', async () => {
    const before = await byStatus();
    const result = await keys.revoke(before.next[0] as string);
    expect(result).toMatchObject({ previousStatus: 'next', current: before.current[0], created: [result.next] });
    expect(await loadedKids()).toEqual([before.current[0], result.next]);
  });

  it('revoking a retired key takes it out of the JWKS before its retention ends', async () => {
    await database.prisma.signingKey.updateMany({ where: { status: 'next' }, data: { createdAt: new Date(Date.now() - 2 * DAY) } });
    const rotation = await keys.rotate();
    expect(await loadedKids()).toContain(rotation.retired);
    const result = await keys.revoke(rotation.retired as string);
    expect(result).toMatchObject({ previousStatus: 'retired', current: rotation.promoted, next: rotation.created, created: [] });
    expect(await loadedKids()).toEqual([rotation.promoted, rotation.created]);
  });

  it('answers 404 for an unknown kid (or one no key could have), 409 for a key already revoked, and changes nothing', async () => {
    const before = await byStatus();
    await expect(keys.revoke('no-such-kid')).rejects.toMatchObject({ status: 404, code: 'not_found' });
    await expect(keys.revoke('a\u0000b')).rejects.toMatchObject({ status: 404 });
    await expect(keys.revoke('\ud800')).rejects.toMatchObject({ status: 404 });
    await expect(keys.revoke('')).rejects.toMatchObject({ status: 404 });
    await keys.revoke(before.next[0] as string);
    const after = await byStatus();
    await expect(keys.revoke(before.next[0] as string)).rejects.toMatchObject({
      status: 409,
      code: 'key_revoked',
      message: expect.stringContaining('already revoked at'),
    });
    expect(await byStatus()).toEqual(after);
    expect(await database.prisma.event.count({ where: { type: 'key.revoked' } })).toBe(1);
  });

  it('two revocations racing on one key: one wins, the other gets 409', async () => {
    const before = await byStatus();
    const outcomes = await Promise.allSettled([keys.revoke(before.current[0] as string), keys.revoke(before.current[0] as string)]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.find((outcome) => outcome.status === 'rejected')).toMatchObject({ reason: { status: 409 } });
    const after = await byStatus();
    expect([after.current.length, after.next.length, after.revoked]).toEqual([1, 1, before.current]);
  });

  it('revoked keys do not disturb the lifecycle: rotation, retention, re-encryption and the secret check skip them', async () => {
    const first = await byStatus();
    await keys.revoke(first.current[0] as string);
    await keys.revoke((await byStatus()).current[0] as string);
    expect((await byStatus()).revoked).toHaveLength(2);
    await keys.verifySecret();
    const due = new Date(Date.now() + 62 * DAY);
    expect((await keys.maintain(due)).promoted).toEqual(expect.any(String));
    const newKey = createSecretKey(randomBytes(32));
    const usable = (await keys.load()).keys.length;
    expect(await reencryptSigningKeys(database.prisma, encryptionKey, newKey)).toBe(usable);
    await reencryptSigningKeys(database.prisma, newKey, encryptionKey);
    expect((await byStatus()).revoked).toHaveLength(2);
  });

  it('a connection lost in the middle of a revocation leaves the keys as they were (one transaction)', async () => {
    const before = await byStatus();
    const rowsBefore = await database.prisma.signingKey.findMany({ orderBy: { kid: 'asc' } });
    // A real fault, not a mock: the database ends the revoking session when the
    // audit row (written after every key change) is inserted, mid-transaction.
    await database.prisma.$executeRawUnsafe(`
      CREATE FUNCTION drop_connection_on_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'key.revoked' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        RETURN NEW;
      END $$`);
    await database.prisma.$executeRawUnsafe(
      'CREATE TRIGGER drop_connection_on_revoke BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION drop_connection_on_revoke()',
    );
    try {
      await expect(keys.revoke(before.current[0] as string)).rejects.toThrow(/terminat|connection|closed/i);
    } finally {
      await database.prisma.$executeRawUnsafe('DROP TRIGGER drop_connection_on_revoke ON events');
      await database.prisma.$executeRawUnsafe('DROP FUNCTION drop_connection_on_revoke()');
    }
    expect(await database.prisma.signingKey.findMany({ orderBy: { kid: 'asc' } })).toEqual(rowsBefore);
    expect(await database.prisma.event.count({ where: { type: 'key.revoked' } })).toBe(0);
    // And the revocation then goes through.
    expect((await keys.revoke(before.current[0] as string)).current).toBe(before.next[0]);
  });
});
