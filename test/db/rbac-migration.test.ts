import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/db/migrate.js';
import { connectToTestDatabase } from '../support/database.js';

const RBAC_MIGRATION = '20261130120000_rbac';
const ITEMS = 'https://items.example.test/';
const OTHER = 'https://other.example.test/';
const BILLING = 'https://billing.example.test/';

/** The new migration over a database in the previous shape: free-text roles, API scopes in client `scope`. */
describe('the rbac migration', () => {
  let database: Awaited<ReturnType<typeof connectToTestDatabase>>;
  let client: pg.Client;

  beforeAll(async () => {
    database = await connectToTestDatabase();
    client = database.client;
    const applied = await applyMigrations(database.databaseUrl, { before: RBAC_MIGRATION });
    expect(applied).not.toContain(RBAC_MIGRATION);
    const insertUser = (email: string, roles: string[]) =>
      client.query("INSERT INTO users (id, email, password_hash, roles, updated_at) VALUES (gen_random_uuid(), $1, 'x', $2, now())", [
        email,
        roles,
      ]);
    await insertUser('ada@example.test', ['admin', 'finance_admin']);
    await insertUser('bob@example.test', ['finance_admin', 'support']);
    await insertUser('cy@example.test', []);
    const insertApi = (identifier: string, scopes: string[]) =>
      client.query(
        'INSERT INTO resources (id, identifier, name, scopes, access_token_ttl, updated_at) VALUES (gen_random_uuid(), $1, $1, $2, 600, now())',
        [identifier, JSON.stringify(scopes.map((name) => ({ name })))],
      );
    await insertApi(ITEMS, ['items:read', 'items:write']);
    await insertApi(OTHER, ['items:read']);
    await insertApi(BILLING, ['billing:read']);
    const insertClient = (id: string, metadata: Record<string, unknown>) =>
      client.query('INSERT INTO clients (id, metadata, updated_at) VALUES ($1, $2, now())', [id, JSON.stringify(metadata)]);
    await insertClient('web', { grant_types: ['authorization_code'], scope: 'openid email roles items:write billing:read' });
    await insertClient('service', { grant_types: ['client_credentials'], scope: 'items:read', default_resource: ITEMS });
    await insertClient('unscoped', { grant_types: ['authorization_code'] });
    await insertClient('stale', { grant_types: ['client_credentials'], scope: 'nothing:defines-this' });
    expect(await applyMigrations(database.databaseUrl)).toContain(RBAC_MIGRATION);
  });
  afterAll(() => database?.close());

  const metadataOf = async (id: string) => (await client.query('SELECT metadata FROM clients WHERE id = $1', [id])).rows[0].metadata;

  it('creates a role for every free-text role name, and the built-in admin role', async () => {
    const { rows } = await client.query('SELECT name, built_in FROM roles ORDER BY name');
    expect(rows).toEqual([
      { name: 'admin', built_in: true },
      { name: 'finance_admin', built_in: false },
      { name: 'support', built_in: false },
    ]);
  });

  it('gives every user the roles they had, and drops the free-text column', async () => {
    const { rows } = await client.query(`
      SELECT u.email, coalesce(array_agg(r.name ORDER BY r.name) FILTER (WHERE r.name IS NOT NULL), '{}') AS roles
        FROM users u LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles r ON r.id = ur.role_id
       GROUP BY u.email ORDER BY u.email`);
    expect(rows).toEqual([
      { email: 'ada@example.test', roles: ['admin', 'finance_admin'] },
      { email: 'bob@example.test', roles: ['finance_admin', 'support'] },
      { email: 'cy@example.test', roles: [] },
    ]);
    const columns = await client.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'users'");
    expect(columns.rows.map((row) => row.column_name)).not.toContain('roles');
  });

  it('turns each API scope a client registered into a grant on every API that defines it, keeping only OpenID scopes in scope', async () => {
    expect(await metadataOf('web')).toMatchObject({
      scope: 'openid email roles',
      api_access: [
        { resource: BILLING, scopes: ['billing:read'] },
        { resource: ITEMS, scopes: ['items:write'] },
      ],
    });
    // The same name on two APIs becomes a grant on both: what the client could get before, made explicit.
    expect(await metadataOf('service')).toMatchObject({
      scope: 'openid',
      default_resource: ITEMS,
      api_access: [
        { resource: ITEMS, scopes: ['items:read'] },
        { resource: OTHER, scopes: ['items:read'] },
      ],
    });
    expect(await metadataOf('stale')).toMatchObject({ scope: 'openid', api_access: [] });
  });

  it('leaves a client without scope as it was: no grants, the default OpenID scopes', async () => {
    expect(await metadataOf('unscoped')).toEqual({ grant_types: ['authorization_code'] });
  });

  it('turns rbac and the permissions claim off for existing APIs', async () => {
    const { rows } = await client.query('SELECT DISTINCT rbac, permissions_claim FROM resources');
    expect(rows).toEqual([{ rbac: false, permissions_claim: false }]);
  });
});
