import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, listMigrations } from '../../src/db/migrate.js';
import { connectToTestDatabase } from '../support/database.js';

describe('migrations', () => {
  let database: Awaited<ReturnType<typeof connectToTestDatabase>>;
  let databaseUrl: string;
  let client: pg.Client;

  beforeAll(async () => {
    database = await connectToTestDatabase();
    ({ databaseUrl, client } = database);
  });
  afterAll(() => database?.close());

  it('applies every committed migration and records it as the Prisma CLI would', async () => {
    const migrations = await listMigrations();
    expect(migrations.length).toBeGreaterThan(0);
    expect(await applyMigrations(databaseUrl)).toEqual(migrations.map((migration) => migration.name));
    const { rows } = await client.query(
      'SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    );
    const [first] = migrations;
    if (!first) throw new Error('no migrations to check');
    const sql = await readFile(new URL(`../../prisma/migrations/${first.name}/migration.sql`, import.meta.url), 'utf8');
    expect(rows[0]).toMatchObject({
      migration_name: first.name,
      checksum: createHash('sha256').update(sql).digest('hex'),
      finished_at: expect.any(Date),
      applied_steps_count: 1,
    });
    const tables = await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
    expect(tables.rows.map((row) => row.tablename)).toEqual([
      '_prisma_migrations',
      'account_tokens',
      'backchannel_logouts',
      'clients',
      'console_sessions',
      'device_code_polls',
      'events',
      'instance_settings',
      'login_counters',
      'mfa_factors',
      'mfa_pending_logins',
      'mfa_recovery_codes',
      'oidc_payloads',
      'refresh_token_successors',
      'resources',
      'role_permissions',
      'roles',
      'session_activity',
      'signing_keys',
      'user_code_failures',
      'user_roles',
      'users',
      'webauthn_challenges',
    ]);
  });

  it('applies nothing the second time, also when instances start at once', async () => {
    expect(await Promise.all([applyMigrations(databaseUrl), applyMigrations(databaseUrl)])).toEqual([[], []]);
    expect((await client.query('SELECT count(*)::int AS n FROM _prisma_migrations')).rows[0].n).toBe((await listMigrations()).length);
  });

  it('indexes the lookups oidc-provider makes', async () => {
    const { rows } = await client.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'oidc_payloads'");
    const definitions = rows.map((row) => row.indexdef).join('\n');
    for (const column of ['grant_id', 'user_code', 'uid', 'expires_at']) expect(definitions).toContain(`(${column})`);
  });

  it('refuses to run when an applied migration was edited afterwards', async () => {
    await client.query("UPDATE _prisma_migrations SET checksum = repeat('0', 64)");
    await expect(applyMigrations(databaseUrl)).rejects.toThrow(/was changed after it was applied/);
  });
});
