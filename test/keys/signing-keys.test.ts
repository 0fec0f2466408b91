import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsealError } from '../../src/keys/encryption.js';
import { ensureSigningKey, loadSigningKeys } from '../../src/keys/signing-keys.js';
import { startTestGatehouse } from '../support/gatehouse.js';
import { createMigratedDatabase } from '../support/services.js';

const PRIVATE_PARAMETERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];

describe('signing keys', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  const key = randomBytes(32);

  beforeAll(async () => {
    database = await createMigratedDatabase();
  });
  afterAll(() => database?.drop());

  it('instances starting together create exactly one current RS256 key', async () => {
    await Promise.all([1, 2, 3].map(() => ensureSigningKey(database.prisma, key, 2048)));
    const rows = await database.prisma.signingKey.findMany();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ alg: 'RS256', status: 'current' });
    await ensureSigningKey(database.prisma, key, 2048);
    expect(await database.prisma.signingKey.count()).toBe(1);
  });

  it('loads the private key for signing; the table holds no private parameter in the clear', async () => {
    const { keys } = await loadSigningKeys(database.prisma, key);
    expect(keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', d: expect.any(String) });
    const dump = JSON.stringify(await database.prisma.$queryRawUnsafe('SELECT * FROM signing_keys'));
    for (const parameter of PRIVATE_PARAMETERS) {
      expect(dump).not.toContain(`"${parameter}"`);
      expect(dump).not.toContain(keys[0]?.[parameter] as string);
    }
  });

  it('refuses to load with another secret instead of replacing the keys', async () => {
    await expect(loadSigningKeys(database.prisma, randomBytes(32))).rejects.toBeInstanceOf(UnsealError);
    expect(await database.prisma.signingKey.count()).toBe(1);
  });

  it('a server started with the wrong GATEHOUSE_SECRET fails clearly', async () => {
    await expect(startTestGatehouse(database.databaseUrl, { GATEHOUSE_SECRET: 'a-different-secret-of-32-characters-or-more' })).rejects.toThrow(
      /wrong GATEHOUSE_SECRET/,
    );
  });

});
