import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, TEST_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import { Browser } from '../support/browser.js';
import { runCliInProcess as inProcess, runCli as gatehouseCli } from '../support/cli.js';
import { authorizationRequestWithPkce, RFC7636_EXAMPLE_CODE_VERIFIER } from '../support/sample-app.js';

describe('gatehouse CLI', () => {
  let databaseUrl: string;
  let gatehouse: TestGatehouse;
  let environment: Record<string, string>;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
    environment = { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET };
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('registers a client whose secret works at the running server', async () => {
    // Spawned: the real bin, end to end (a smoke test).
    const created = await gatehouseCli(
      ['clients', 'create', '--name', 'CLI App', '--redirect-uri', 'http://127.0.0.1:9999/cb', '--refresh-tokens', '--json'],
      environment,
    );
    expect(created.code).toBe(0);
    const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string; grant_types: string[] };
    expect(client.grant_types).toEqual(['authorization_code', 'refresh_token']);
    expect(created.stderr).not.toContain(client.client_secret);

    // The secret authenticates at the token endpoint (a bogus code, but a known client: invalid_grant, not invalid_client).
    const response = await fetch(`${gatehouse.issuer}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=authorization_code&code=bogus&redirect_uri=http%3A%2F%2F127.0.0.1%3A9999%2Fcb&code_verifier=' + 'a'.repeat(43),
    });
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('registers a service client; rotate-secret and delete take effect at the running server', async () => {
    await gatehouse.resources.createResource({ identifier: 'https://reports.example.test/', name: 'Reports', scopes: ['reports:read'] });
    const created = await inProcess(['clients', 'create', '--name', 'Nightly job', '--grant', 'client_credentials', '--json'], environment);
    expect(created.code).toBe(0);
    const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string; redirect_uris: string[] };
    expect(client.redirect_uris).toEqual([]);
    const granted = await inProcess(
      [
        'clients',
        'grant',
        client.client_id,
        '--resource',
        'https://reports.example.test/',
        '--scope',
        'reports:read',
        '--default',
        '--json',
      ],
      environment,
    );
    expect(JSON.parse(granted.stdout)).toMatchObject({
      client_id: client.client_id,
      api_access: [{ resource: 'https://reports.example.test/', scopes: ['reports:read'] }],
      default_resource: 'https://reports.example.test/',
    });
    const tokenStatus = async (secret: string) => {
      const response = await fetch(`${gatehouse.issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      });
      const body = (await response.json()) as { scope?: string };
      return { status: response.status, scope: body.scope };
    };
    expect(await tokenStatus(client.client_secret)).toEqual({ status: 200, scope: 'reports:read' });

    const rotated = await inProcess(['clients', 'rotate-secret', '--client-id', client.client_id, '--json'], environment);
    expect(rotated.code).toBe(0);
    const { client_secret: newSecret } = JSON.parse(rotated.stdout) as { client_secret: string };
    await expect.poll(async () => (await tokenStatus(client.client_secret)).status, { timeout: 15_000, interval: 100 }).toBe(401);
    expect((await tokenStatus(newSecret)).status).toBe(200);

    const deleted = await inProcess(['clients', 'delete', '--client-id', client.client_id], environment);
    expect(deleted.code).toBe(0);
    await expect.poll(async () => (await tokenStatus(newSecret)).status, { timeout: 15_000, interval: 100 }).toBe(401);
    expect((await inProcess(['clients', 'delete', '--client-id', client.client_id], environment)).code).toBe(3);
  });

  it('prints a readable record by default', async () => {
    const created = await inProcess(
      ['clients', 'create', '--name', 'Native', '--public', '--native', '--redirect-uri', 'com.example.app:/cb'],
      environment,
    );
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^client_id\s+\S+$/m);
    expect(created.stdout).toMatch(/^token_endpoint_auth_method\s+none$/m);
    expect(created.stdout).not.toContain('client_secret');
  });

  it('creates a user who can then sign in, reading the password from stdin', async () => {
    // Spawned: the real bin, end to end (a smoke test).
    await gatehouse.roles.createRole({ name: 'ops' });
    const created = await gatehouseCli(
      ['users', 'create', '--email', 'Cli@Example.test', '--password-stdin', '--name', 'Cli User', '--roles', 'admin, ops', '--json'],
      environment,
      'a long cli password\n',
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email: 'cli@example.test', name: 'Cli User', roles: ['admin', 'ops'] });
    expect(`${created.stdout}${created.stderr}`).not.toContain('a long cli password');
    expect(await gatehouse.users.authenticate('cli@example.test', 'a long cli password')).not.toBeNull();
  });

  // Nine CLI processes, each starting Node and tsx: on a loaded 2-core machine that can outlast the default 60 s.
  it('lists, disables and deletes users', async () => {
    const created = JSON.parse(
      (await inProcess(['users', 'create', '--email', 'ops@example.test', '--password-stdin', '--json'], environment, 'ops password 1234'))
        .stdout,
    ) as { id: string };
    const listed = await inProcess(['users', 'list', '--email', 'OPS@example.test', '--json'], environment);
    // --json prints what the admin API shows (the same presenter); the table, a few columns.
    expect(JSON.parse(listed.stdout)).toEqual([
      {
        id: created.id,
        email: 'ops@example.test',
        name: null,
        roles: [],
        email_verified: false,
        disabled: false,
        created_at: expect.any(String),
        updated_at: expect.any(String),
      },
    ]);
    const searched = await inProcess(['users', 'list', '--search', 'OPS@EX', '--json'], environment);
    expect(JSON.parse(searched.stdout).map((user: { email: string }) => user.email)).toEqual(['ops@example.test']);
    const table = await inProcess(['users', 'list'], environment);
    expect(table.stdout).toMatch(/^id\s+email\s+name\s+roles\s+disabled$/m);
    expect(table.stdout).toContain('ops@example.test');

    const disabled = await inProcess(['users', 'disable', created.id, '--json'], environment);
    expect(JSON.parse(disabled.stdout)).toMatchObject({ id: created.id, disabled: true });
    expect(await gatehouse.users.authenticate('ops@example.test', 'ops password 1234')).toBeNull();
    await inProcess(['users', 'disable', created.id, '--enable'], environment);
    expect(await gatehouse.users.authenticate('ops@example.test', 'ops password 1234')).not.toBeNull();

    expect((await inProcess(['users', 'delete', created.id], environment)).code).toBe(0);
    const again = await inProcess(['users', 'delete', created.id], environment);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('not_found');
    expect((await inProcess(['users', 'delete'], environment)).code).toBe(2);
    const events = await gatehouse.prisma.event.findMany({ where: { subject: created.id }, orderBy: { id: 'asc' } });
    expect(events.map((event) => [event.type, event.actor])).toEqual([
      ['user.created', 'cli'],
      ['user.updated', 'cli'],
      ['user.sessions_revoked', 'cli'],
      ['user.disabled', 'cli'],
      ['user.updated', 'cli'],
      ['user.deleted', 'cli'],
    ]);
  }, 180_000);

  it('lists and shows clients, and lists APIs', async () => {
    const created = JSON.parse(
      (
        await inProcess(
          ['clients', 'create', '--name', 'Listed', '--redirect-uri', 'https://listed.example.test/cb', '--json'],
          environment,
        )
      ).stdout,
    ) as { client_id: string; client_secret: string };
    const listed = JSON.parse((await inProcess(['clients', 'list', '--json'], environment)).stdout) as { client_id: string }[];
    expect(listed.map((client) => client.client_id)).toContain(created.client_id);
    const shown = await inProcess(['clients', 'show', created.client_id], environment); // positional, like users
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^client_name\s+Listed$/m);
    expect(shown.stdout).not.toContain(created.client_secret);
    expect((await inProcess(['clients', 'show', '--client-id', 'missing-client'], environment)).code).toBe(3);
    const apis = await inProcess(['resources', 'list'], environment);
    expect(apis.stdout).toMatch(/^id\s+identifier\s+name\s+scopes\s+access_token_ttl\s+rbac\s+permissions_claim$/m);
    expect(apis.stdout).toContain(`${gatehouse.issuer}/admin`);
  });

  it('migrate reports an up-to-date schema', async () => {
    const migrated = await inProcess(['migrate'], environment);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout.trim()).toBe('database schema is up to date');
  });

  it('registers an API', async () => {
    const created = await inProcess(
      [
        'resources',
        'create',
        '--identifier',
        'https://cli.example.test/',
        '--name',
        'CLI API',
        '--scope',
        'a:read',
        '--scope',
        'a:write',
        '--ttl',
        '300',
        '--json',
      ],
      environment,
    );
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      identifier: 'https://cli.example.test/',
      scopes: [{ name: 'a:read' }, { name: 'a:write' }],
      access_token_ttl: 300,
    });
    const shown = await inProcess(['resources', 'list'], environment);
    expect(shown.stdout).toMatch(/CLI API\s+a:read, a:write\s+300/);
  });

  it('exits 3 on rejected input, 2 on usage errors, 0 on --help', async () => {
    const badUri = await inProcess(['clients', 'create', '--name', 'X', '--redirect-uri', 'javascript:alert(1)'], environment);
    expect(badUri.code).toBe(3);
    expect(badUri.stderr).toContain('invalid_redirect_uri');
    const duplicate = await inProcess(['users', 'create', '--email', 'cli@example.test', '--password', 'a long cli password'], environment);
    expect(duplicate.code).toBe(3);
    expect(duplicate.stderr).toContain('email_taken');
    expect((await inProcess(['users', 'create', '--unknown-flag'], environment)).code).toBe(2);
    expect((await inProcess(['nonsense'], environment)).code).toBe(2);
    expect((await inProcess(['users', 'create', '--email', 'x@example.test'], environment)).code).toBe(2);
    const help = await inProcess(['--help'], environment);
    expect(help.code).toBe(0);
    for (const command of [
      'clients create',
      'users create',
      'users list',
      'users disable',
      'users delete',
      'resources create',
      'keys list',
      'keys rotate',
      'migrate',
      'serve',
    ]) {
      expect(help.stdout).toContain(`gatehouse ${command}`);
    }
    const commandHelp = await inProcess(['users', 'disable', '--help'], environment);
    expect(commandHelp.code).toBe(0);
    expect(commandHelp.stdout).toContain('Usage: gatehouse users disable ID');
  });

  it('registers a device-only public client that can start the device flow', async () => {
    const created = await inProcess(
      ['clients', 'create', '--name', 'CLI Tool', '--device', '--public', '--refresh-tokens', '--json'],
      environment,
    );
    expect(created.code).toBe(0);
    const client = JSON.parse(created.stdout) as {
      client_id: string;
      client_secret?: string;
      grant_types: string[];
      redirect_uris: string[];
    };
    expect(client).toMatchObject({ grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'], redirect_uris: [] });
    expect(client.client_secret).toBeUndefined();
    const response = await fetch(`${gatehouse.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: client.client_id, scope: 'openid' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ user_code: expect.stringMatching(/^[A-Z]{4}-[A-Z]{4}$/) });
  });

  it('a client it creates shows its escaped name on the login page', async () => {
    const created = await inProcess(
      ['clients', 'create', '--name', 'Shown <Name>', '--redirect-uri', 'http://127.0.0.1:9999/cb', '--json'],
      environment,
    );
    const { client_id } = JSON.parse(created.stdout) as { client_id: string };
    const { url } = await authorizationRequestWithPkce(
      { issuer: gatehouse.issuer, clientId: client_id },
      { scope: 'openid', redirect_uri: 'http://127.0.0.1:9999/cb' },
      RFC7636_EXAMPLE_CODE_VERIFIER,
    );
    const page = await new Browser().open(url);
    expect(page.html).toContain('Shown &lt;Name&gt;');
  });

  it('lists keys without private parts and rotates on request', async () => {
    const listed = await inProcess(['keys', 'list', '--json'], environment);
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.stdout) as { kid: string; status: string }[];
    expect(keys.map((key) => key.status)).toEqual(['current', 'next']);
    expect(listed.stdout).not.toMatch(/"(d|p|q|encrypted_?private_?jwk)"/i);
    const table = await inProcess(['keys', 'list'], environment);
    expect(table.stdout.split('\n')[0]).toMatch(/^kid\s+alg\s+status/);

    const tooSoon = await inProcess(['keys', 'rotate'], environment);
    expect(tooSoon.code).toBe(3);
    expect(tooSoon.stderr).toContain('rotation_too_soon');

    await gatehouse.prisma.$executeRawUnsafe("UPDATE signing_keys SET created_at = created_at - interval '2 days' WHERE status = 'next'");
    const rotated = await inProcess(['keys', 'rotate', '--json'], environment);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ promoted: keys[1]?.kid, retired: keys[0]?.kid, created: expect.any(String) });
  });
});

describe('gatehouse keys re-encrypt', () => {
  it('moves the keys to a new GATEHOUSE_SECRET, after which a server starts with it', async () => {
    const databaseUrl = await createTestDatabase();
    const first = await startTestGatehouse(databaseUrl);
    const { keys: before } = await first.keys.load();
    await first.stop();

    const oldSecretFile = join(await mkdtemp(join(tmpdir(), 'gatehouse-old-secret-')), 'old');
    await writeFile(oldSecretFile, TEST_SECRET, { mode: 0o600 });
    const newSecret = 'the-new-secret-that-is-long-enough-123456';
    const result = await inProcess(['keys', 're-encrypt', '--old-secret-file', oldSecretFile, '--json'], {
      DATABASE_URL: databaseUrl,
      GATEHOUSE_SECRET: newSecret,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ re_encrypted: 2 });

    const second = await startTestGatehouse(databaseUrl, { ...first.environment, GATEHOUSE_SECRET: newSecret });
    expect((await second.keys.load()).keys).toEqual(before);
    await second.stop();
    await dropTestDatabase(databaseUrl);
  });
});
