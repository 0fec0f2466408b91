import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliInProcess as gatehouseCli } from '../support/cli.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, TEST_SECRET, type TestGatehouse } from '../support/gatehouse.js';

const INVOICES = 'https://invoices.example.test/';

describe('gatehouse roles, users roles set', () => {
  let databaseUrl: string;
  let gatehouse: TestGatehouse;
  let environment: Record<string, string>;
  const run = async (...args: string[]) => {
    const result = await gatehouseCli([...args, '--json'], environment);
    return { ...result, json: result.code === 0 ? JSON.parse(result.stdout) : undefined };
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
    environment = { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET };
    await gatehouse.resources.createResource({ identifier: INVOICES, name: 'Invoices', scopes: ['read:invoices', 'write:invoices'] });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('creates, updates, lists, shows and deletes a role with permissions on an API', async () => {
    const created = await run(
      'roles',
      'create',
      'finance_admin',
      '--description',
      'Finance',
      '--resource',
      INVOICES,
      '--scope',
      'read:invoices',
    );
    expect(created.json).toMatchObject({
      name: 'finance_admin',
      description: 'Finance',
      built_in: false,
      permissions: [{ resource: INVOICES, scope: 'read:invoices' }],
    });
    const updated = await run(
      'roles',
      'update',
      'finance_admin',
      '--resource',
      INVOICES,
      '--scope',
      'read:invoices',
      '--scope',
      'write:invoices',
    );
    expect(updated.json.permissions).toEqual([
      { resource: INVOICES, scope: 'read:invoices' },
      { resource: INVOICES, scope: 'write:invoices' },
    ]);
    const listed = await run('roles', 'list');
    expect(listed.json.map((role: { name: string }) => role.name).sort()).toEqual(['admin', 'finance_admin']);
    expect((await run('roles', 'show', 'finance_admin')).json).toMatchObject({ id: created.json.id });
    expect((await run('roles', 'delete', 'finance_admin')).json).toEqual({ name: 'finance_admin', deleted: true });
    expect((await gatehouseCli(['roles', 'show', 'finance_admin'], environment)).code).toBe(3);
  });

  it('refuses an unknown scope, a duplicate name and deleting the admin role, naming the problem (exit 3)', async () => {
    const unknown = await gatehouseCli(['roles', 'create', 'auditor', '--resource', INVOICES, '--scope', 'delete:invoices'], environment);
    expect(unknown).toMatchObject({ code: 3, stderr: expect.stringContaining('delete:invoices is not a scope of') });
    await gatehouse.roles.createRole({ name: 'auditor' });
    expect(await gatehouseCli(['roles', 'create', 'auditor'], environment)).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('role_exists'),
    });
    expect(await gatehouseCli(['roles', 'delete', 'admin'], environment)).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('role_reserved'),
    });
    expect((await gatehouseCli(['roles', 'create', 'x', '--scope', 'read:invoices'], environment)).code).toBe(2);
  });

  it('sets require_mfa with --require-mfa on create and --require-mfa true|false on update, shown in show and list', async () => {
    const created = await run('roles', 'create', 'treasury', '--require-mfa');
    expect(created.json).toMatchObject({ name: 'treasury', require_mfa: true });
    expect((await gatehouse.roles.findRole('treasury'))?.requireMfa).toBe(true);
    expect((await run('roles', 'create', 'plain')).json).toMatchObject({ require_mfa: false });

    expect((await run('roles', 'update', 'treasury', '--require-mfa', 'false')).json).toMatchObject({ require_mfa: false });
    expect((await run('roles', 'show', 'treasury')).json).toMatchObject({ require_mfa: false });
    expect((await run('roles', 'update', 'treasury', '--require-mfa', 'true')).json).toMatchObject({ require_mfa: true });
    const listed = (await run('roles', 'list')).json as { name: string; require_mfa: boolean }[];
    expect(listed.find((role) => role.name === 'treasury')?.require_mfa).toBe(true);
    const table = await gatehouseCli(['roles', 'list'], environment);
    expect(table.stdout).toContain('require_mfa');
    expect(await gatehouse.prisma.event.count({ where: { type: 'role.updated', actor: 'cli', subject: created.json.id } })).toBe(2);

    // A value that is not true or false is a usage error (exit 2) that changes nothing.
    expect(await gatehouseCli(['roles', 'update', 'treasury', '--require-mfa', 'yes'], environment)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--require-mfa takes true or false'),
    });
    expect((await gatehouse.roles.findRole('treasury'))?.requireMfa).toBe(true);
  });

  it("replaces a user's roles, and --none takes them all", async () => {
    const user = await gatehouse.users.createUser({ email: 'fin@example.test', password: 'a long enough password' });
    await gatehouse.roles.createRole({ name: 'clerk' });
    expect((await run('users', 'roles', 'set', user.id, '--role', 'clerk', '--role', 'auditor')).json).toEqual({
      user_id: user.id,
      roles: ['auditor', 'clerk'],
    });
    expect((await gatehouse.users.findUserById(user.id))?.roles).toEqual(['auditor', 'clerk']);
    expect(await gatehouseCli(['users', 'roles', 'set', user.id, '--role', 'nobody'], environment)).toMatchObject({
      code: 3,
      stderr: expect.stringContaining('no role named nobody'),
    });
    expect((await run('users', 'roles', 'set', user.id, '--none')).json).toEqual({ user_id: user.id, roles: [] });
    expect((await gatehouseCli(['users', 'roles', 'set', user.id], environment)).code).toBe(2);
  });
});
