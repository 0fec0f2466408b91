import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess } from '../support/cli.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { TEST_SECRET } from '../support/gatehouse.js';

/** The CLI on the database (--local, the default without a server URL): the fixes of issue 17 and the new commands. */
describe('gatehouse CLI on the database', () => {
  let databaseUrl: string;
  let environment: Record<string, string>;
  const run = async (args: string[], stdin = '') => {
    const result = await runCliInProcess(args, environment, stdin);
    const json = args.includes('--json') && result.code === 0 ? (JSON.parse(result.stdout) as unknown) : undefined;
    return { ...result, json };
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    environment = { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET };
  });
  afterAll(() => dropTestDatabase(databaseUrl));

  it('shows and updates a user, and sets a password under the policy', async () => {
    const created = await run(['users', 'create', '--email', 'grace@example.test', '--password-stdin', '--json'], 'a long first password');
    const { id } = created.json as { id: string };
    const shown = await run(['users', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^email\s+grace@example\.test$/m);

    const updated = await run(['users', 'update', id, '--name', 'Grace Hopper', '--email-verified', 'true', '--json']);
    expect(updated.json).toMatchObject({ id, name: 'Grace Hopper', email_verified: true });
    expect((await run(['users', 'update', id, '--no-name', '--json'])).json).toMatchObject({ name: null });

    const badFlag = await run(['users', 'update', id, '--email-verified', 'yes']);
    expect(badFlag).toMatchObject({ code: 2, stderr: expect.stringContaining('--email-verified takes true or false') });
    const nothing = await run(['users', 'update', id]);
    expect(nothing).toMatchObject({ code: 2, stderr: expect.stringContaining('name something to change') });
    const badEmail = await run(['users', 'update', id, '--email', 'not an email']);
    expect(badEmail.code).toBe(3);
    const unknown = await run(['users', 'show', '00000000-0000-4000-8000-000000000000', '--json']);
    expect(unknown.code).toBe(3);
    expect(JSON.parse(unknown.stderr)).toEqual({
      error: 'not_found',
      error_description: expect.stringContaining('00000000-0000-4000-8000-000000000000'),
    });

    const weak = await run(['users', 'set-password', id, '--password-stdin'], 'password1234\n');
    expect(weak.code).toBe(3);
    expect(weak.stderr).toContain('too easy to guess');
    const set = await run(['users', 'set-password', id, '--password-stdin', '--json'], 'a sturdier second passphrase\n');
    expect(set.json).toEqual({ id, email: 'grace@example.test', sessions_ended: true });
    expect((await run(['users', 'set-password', id])).code).toBe(2);
  });

  it('shows, updates and deletes an API by identifier, with durations such as 15m', async () => {
    const created = await run([
      'resources',
      'create',
      '--identifier',
      'https://billing.example.test/',
      '--name',
      'Billing',
      '--scope',
      'invoices:read=Read your invoices',
      '--ttl',
      '15m',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.json).toMatchObject({ access_token_ttl: 900, scopes: [{ name: 'invoices:read', description: 'Read your invoices' }] });
    const { id } = created.json as { id: string };

    const updated = await run(['resources', 'update', 'https://billing.example.test/', '--ttl', '1h', '--rbac', 'on', '--json']);
    expect(updated.json).toMatchObject({ id, access_token_ttl: 3600, rbac: 'on' });
    expect((await run(['resources', 'show', id, '--json'])).json).toMatchObject({
      identifier: 'https://billing.example.test/',
      rbac: 'on',
    });

    expect(await run(['resources', 'update', id, '--ttl', '15x'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--ttl must be a duration such as 900, 15m, 12h or 30d (got "15x")'),
    });
    expect(await run(['resources', 'update', id, '--ttl', '2d'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--ttl must be at most 86400 seconds'),
    });
    expect(await run(['resources', 'update', id, '--rbac', 'maybe'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--rbac takes on or off'),
    });
    // The admin API's field (scopes.0) comes out as the flag the operator typed.
    const badScope = await run(['resources', 'update', id, '--scope', 'has space']);
    expect(badScope.code).toBe(3);
    expect(badScope.stderr).toMatch(/gatehouse resources update: invalid_request: the 1st --scope is not valid: /);
    expect(badScope.stderr).not.toContain('scopes.0');

    expect((await run(['resources', 'delete', 'https://billing.example.test/', '--json'])).json).toEqual({ id, deleted: true });
    expect(await run(['resources', 'show', 'https://billing.example.test/'])).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('not_found: no API https://billing.example.test/'),
    });
  });

  it('names the flag when the admin API refuses a client field', async () => {
    const badGrant = await run(['clients', 'create', '--name', 'X', '--grant', 'client_credentials', '--grant', 'password', '--json']);
    expect(badGrant.code).toBe(3);
    expect(JSON.parse(badGrant.stderr).error_description).toMatch(/^the 2nd --grant is not valid: /);
    const badRedirect = await run([
      'clients',
      'create',
      '--name',
      'X',
      '--redirect-uri',
      'https://app.example.test/cb',
      '--redirect-uri',
      'javascript:alert(1)',
    ]);
    expect(badRedirect.code).toBe(3);
    expect(badRedirect.stderr).toContain('invalid_redirect_uri: --redirect-uri is not valid: javascript:alert(1) uses a forbidden scheme');
  });

  it('updates a client: replaces its lists, removes its default API with an empty value, and refuses bad input', async () => {
    await run(['resources', 'create', '--identifier', 'https://orders.example.test/', '--name', 'Orders', '--json']);
    const created = await run([
      'clients',
      'create',
      '--name',
      'Shop',
      '--redirect-uri',
      'https://shop.example.test/cb',
      '--grant',
      'authorization_code',
      '--grant',
      'client_credentials',
      '--json',
    ]);
    const { client_id: clientId } = created.json as { client_id: string };
    const granted = await run(['clients', 'grant', clientId, '--resource', 'https://orders.example.test/', '--default']);
    expect(granted.code, granted.stderr).toBe(0);
    const updated = await run([
      'clients',
      'update',
      clientId,
      '--name',
      'Shop 2',
      '--redirect-uri',
      'https://shop.example.test/a',
      '--redirect-uri',
      'https://shop.example.test/b',
      '--grant',
      'authorization_code',
      '--grant',
      'client_credentials',
      '--grant',
      'refresh_token',
      '--json',
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.json).toMatchObject({
      client_name: 'Shop 2',
      redirect_uris: ['https://shop.example.test/a', 'https://shop.example.test/b'],
      grant_types: ['authorization_code', 'client_credentials', 'refresh_token'],
      default_resource: 'https://orders.example.test/',
    });
    expect((await run(['clients', 'update', clientId, '--default-resource', '', '--json'])).json).not.toHaveProperty('default_resource');
    expect(await run(['clients', 'update', clientId])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('name something to change'),
    });
    const bad = await run(['clients', 'update', clientId, '--redirect-uri', 'https://shop.example.test/a', '--redirect-uri', 'ftp://x']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('--redirect-uri is not valid');
    expect((await run(['clients', 'show', clientId, '--json'])).json).toMatchObject({ client_name: 'Shop 2' });
  });

  it("ends a user's sessions, and shows their permissions by API", async () => {
    await run([
      'resources',
      'create',
      '--identifier',
      'https://ledger.example.test/',
      '--name',
      'Ledger',
      '--scope',
      'ledger:read',
      '--rbac',
      'on',
    ]);
    await run(['roles', 'create', 'bookkeeper', '--resource', 'https://ledger.example.test/', '--scope', 'ledger:read']);
    const user = await run([
      'users',
      'create',
      '--email',
      'books@example.test',
      '--password',
      'a long bookkeeping password',
      '--roles',
      'bookkeeper',
      '--json',
    ]);
    const { id } = user.json as { id: string };
    expect((await run(['users', 'permissions', id, '--json'])).json).toEqual([
      { resource: 'https://ledger.example.test/', scopes: ['ledger:read'] },
    ]);
    expect((await run(['users', 'permissions', id])).stdout).toMatch(/^https:\/\/ledger\.example\.test\/\s+ledger:read$/m);
    expect((await run(['users', 'revoke-sessions', id, '--json'])).json).toEqual({ id, sessions_ended: true });
    expect((await run(['users', 'revoke-sessions', 'nobody'])).code).toBe(3);
    // Email delivery is not configured here: said plainly, and no user is left half-made.
    const noMail = await run([
      'users',
      'create',
      '--email',
      'mail@example.test',
      '--password',
      'a long mailing password',
      '--send-verification-email',
      '--json',
    ]);
    expect(noMail.code).toBe(3);
    expect(JSON.parse(noMail.stderr)).toMatchObject({ error: 'email_unavailable' });
    expect((await run(['users', 'list', '--email', 'mail@example.test', '--json'])).json).toEqual([]);
  });

  it('pages lists with --limit and --cursor, or fetches them all with --all', async () => {
    for (const n of [1, 2, 3]) {
      await run(['users', 'create', '--email', `page${n}@example.test`, '--password', 'a long paging password']);
    }
    const first = await run(['users', 'list', '--limit', '2', '--json']);
    expect(first.json).toHaveLength(2);
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1];
    expect(cursor).toBeDefined();
    const second = await run(['users', 'list', '--limit', '2', '--cursor', cursor ?? '', '--json']);
    const all = (await run(['users', 'list', '--all', '--json'])).json as { id: string }[];
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(all.map((user) => user.id).slice(0, 4)).toEqual(
      [...(first.json as { id: string }[]), ...(second.json as { id: string }[])].map((user) => user.id),
    );
    expect((await run(['users', 'list', '--all'])).stderr).not.toContain('--cursor');

    expect(await run(['users', 'list', '--limit', '500'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--limit must be a number from 1 to 100'),
    });
    expect(await run(['users', 'list', '--all', '--limit', '5'])).toMatchObject({ code: 2 });
    const badCursor = await run(['users', 'list', '--cursor', '%%%', '--json']);
    expect(badCursor.code).toBe(3);
    expect(JSON.parse(badCursor.stderr)).toEqual({ error: 'invalid_request', error_description: 'cursor is not valid' });
  });

  it('lists audit events, filtered by type and time, newest first', async () => {
    const created = (await run(['events', 'list', '--type', 'user.created', '--all', '--json'])).json as { type: string; actor: string }[];
    expect(created.length).toBeGreaterThanOrEqual(4);
    expect(created.every((event) => event.type === 'user.created' && event.actor === 'cli')).toBe(true);
    const recent = (await run(['events', 'list', '--since', '1h', '--limit', '3', '--json'])).json as { id: string }[];
    expect(recent).toHaveLength(3);
    expect(recent.map((event) => Number(event.id))).toEqual([...recent.map((event) => Number(event.id))].sort((a, b) => b - a));
    expect((await run(['events', 'list', '--since', '2999-01-01T00:00:00Z', '--json'])).json).toEqual([]);
    const mine = (await run(['events', 'list', '--actor', 'cli', '--type', 'user.created', '--all', '--json'])).json as unknown[];
    expect(mine).toHaveLength(created.length);
    expect((await run(['events', 'list', '--actor', 'user:nobody', '--json'])).json).toEqual([]);
    expect((await run(['events', 'list', '--until', '1970-01-02T00:00:00Z', '--json'])).json).toEqual([]);
    expect((await run(['users', 'list', '--search', 'PAGE', '--all', '--json'])).json).toHaveLength(3);
    const table = await run(['events', 'list', '--limit', '1']);
    expect(table.stdout).toMatch(/^id\s+occurred_at\s+type\s+actor\s+subject$/m);

    const badType = await run(['events', 'list', '--type', 'user.exploded']);
    expect(badType.code).toBe(3);
    expect(badType.stderr).toMatch(/--type is not valid/);
    const badSince = await run(['events', 'list', '--since', 'yesterday', '--json']);
    expect(badSince.code).toBe(3);
    expect(JSON.parse(badSince.stderr).error_description).toMatch(/^--since is not valid/);
  });

  it('says in one line that keys re-encrypt cannot read a missing file, and only runs on the database', async () => {
    const missing = join(await mkdtemp(join(tmpdir(), 'gatehouse-missing-')), 'old-secret');
    const result = await run(['keys', 're-encrypt', '--old-secret-file', missing]);
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(`gatehouse keys re-encrypt: --old-secret-file cannot be read: ${missing} (no such file)`);
    const remote = await run(['keys', 're-encrypt', '--old-secret-file', missing, '--url', 'https://auth.example.test', '--json']);
    expect(remote.code).toBe(2);
    expect(JSON.parse(remote.stderr).error_description).toContain('run it with --local');
  });
});
