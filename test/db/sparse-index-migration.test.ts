import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/db/migrate.js';
import { connectToTestDatabase } from '../support/database.js';

const SPARSE_INDEXES_MIGRATION = '20261202060000_sparse_payload_indexes';

const indexesOfPayloads = async (database: Awaited<ReturnType<typeof connectToTestDatabase>>) =>
  (
    await database.client.query<{ indexname: string; indexdef: string }>(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'oidc_payloads' ORDER BY indexname",
    )
  ).rows;

/** The migration that makes oidc_payloads' sparse columns' indexes partial, over a database in the previous shape. */
describe('the sparse-index migration', () => {
  let database: Awaited<ReturnType<typeof connectToTestDatabase>>;

  beforeAll(async () => {
    database = await connectToTestDatabase();
    expect(await applyMigrations(database.databaseUrl, { before: SPARSE_INDEXES_MIGRATION })).not.toContain(SPARSE_INDEXES_MIGRATION);
  });
  afterAll(() => database?.close());

  it('refuses an index built beforehand that a failed concurrent build left INVALID, and keeps the old indexes', async () => {
    // What an interrupted CREATE INDEX CONCURRENTLY leaves: the index under its name, marked not valid.
    await database.client.query('CREATE INDEX "oidc_payloads_uid_set_idx" ON "oidc_payloads" ("uid") WHERE "uid" IS NOT NULL');
    await database.client.query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'oidc_payloads_uid_set_idx'::regclass");
    await expect(applyMigrations(database.databaseUrl)).rejects.toThrow(/INVALID/);
    const names = (await indexesOfPayloads(database)).map((index) => index.indexname);
    expect(names).toEqual(expect.arrayContaining(['oidc_payloads_grant_id_idx', 'oidc_payloads_user_code_idx', 'oidc_payloads_uid_idx']));
  });

  it('replaces the three full indexes with partial ones, and uses one built beforehand', async () => {
    // Built again, as the operations guide says; now valid.
    await database.client.query('DROP INDEX "oidc_payloads_uid_set_idx"');
    await database.client.query('CREATE INDEX CONCURRENTLY "oidc_payloads_uid_set_idx" ON "oidc_payloads" ("uid") WHERE "uid" IS NOT NULL');
    expect(await applyMigrations(database.databaseUrl)).toContain(SPARSE_INDEXES_MIGRATION);
    const indexes = await indexesOfPayloads(database);
    const names = indexes.map((index) => index.indexname);
    expect(names).not.toContain('oidc_payloads_grant_id_idx');
    expect(names).not.toContain('oidc_payloads_user_code_idx');
    expect(names).not.toContain('oidc_payloads_uid_idx');
    for (const column of ['grant_id', 'user_code', 'uid']) {
      const definition = indexes.find((index) => index.indexname === `oidc_payloads_${column}_set_idx`)?.indexdef;
      expect(definition).toContain(`(${column}) WHERE (${column} IS NOT NULL)`);
    }
  });
});
