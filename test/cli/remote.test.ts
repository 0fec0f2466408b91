import { mkdtemp, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { runCli, runCliInProcess } from '../support/cli.js';
import { TEST_SECRET } from '../support/gatehouse.js';
import { PASSWORD, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';
import { approveOnPages, DEVICE_GRANT } from '../support/device.js';
import { runCli as runCliMain } from '../../src/cli/main.js';

/** The same commands through a running server's admin API (remote mode), next to the database (--local). */
describe('gatehouse CLI against a running server', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;
  let local: Record<string, string>;
  let remote: Record<string, string>;
  let reader: Record<string, string>;
  let adminClientId: string;

  const run = async (environment: Record<string, string>, args: string[], stdin = '') => {
    const result = await runCliInProcess(args, environment, stdin);
    const json = args.includes('--json') && result.code === 0 && result.stdout.trim() ? (JSON.parse(result.stdout) as unknown) : undefined;
    return { ...result, json };
  };

  beforeAll(async () => {
    // A one-second device-flow interval keeps `login --device` quick.
    started = await startWithSampleApp({ GATEHOUSE_DEVICE_POLL_INTERVAL: '1' });
    const { gatehouse } = started;
    const adminApi = `${gatehouse.issuer}/admin`;
    const service = (name: string, scopes: string[]) =>
      gatehouse.clients.registerClient({
        client_name: name,
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        api_access: [{ resource: adminApi, scopes }],
        default_resource: adminApi,
      });
    const admin = await service('CLI admin', ['admin']);
    const readOnly = await service('CLI reader', ['admin:clients:read']);
    adminClientId = admin.client_id;
    // The secret from a file, as in a container (GATEHOUSE_CLIENT_SECRET_FILE).
    const secretFile = join(await mkdtemp(join(tmpdir(), 'gatehouse-cli-secret-')), 'secret');
    await writeFile(secretFile, `${admin.client_secret}\n`, { mode: 0o600 });
    local = { DATABASE_URL: started.databaseUrl, GATEHOUSE_SECRET: TEST_SECRET };
    remote = { GATEHOUSE_URL: gatehouse.url, GATEHOUSE_CLIENT_ID: admin.client_id, GATEHOUSE_CLIENT_SECRET_FILE: secretFile };
    reader = {
      GATEHOUSE_URL: gatehouse.url,
      GATEHOUSE_CLIENT_ID: readOnly.client_id,
      GATEHOUSE_CLIENT_SECRET: readOnly.client_secret ?? '',
    };
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  it('manages users, clients, APIs and roles remotely, audited as the admin client', async () => {
    const user = await run(
      remote,
      ['users', 'create', '--email', 'remote@example.test', '--password-stdin', '--roles', 'engineer', '--json'],
      'a long remote password',
    );
    expect(user.code, user.stderr).toBe(0);
    const { id } = user.json as { id: string };
    expect((await run(remote, ['users', 'update', id, '--name', 'Remote Person', '--json'])).json).toMatchObject({ name: 'Remote Person' });
    expect((await run(remote, ['users', 'set-password', id, '--password-stdin', '--json'], 'another long passphrase')).json).toMatchObject({
      id,
    });
    expect(await started.gatehouse.users.authenticate('remote@example.test', 'another long passphrase')).toMatchObject({ id });
    expect((await run(remote, ['users', 'disable', id, '--json'])).json).toMatchObject({ disabled: true });
    expect((await run(remote, ['users', 'roles', 'set', id, '--none', '--json'])).json).toEqual({ user_id: id, roles: [] });

    const api = await run(remote, [
      'resources',
      'create',
      '--identifier',
      'https://remote.example.test/',
      '--name',
      'Remote API',
      '--scope',
      'r:read',
      '--ttl',
      '5m',
      '--json',
    ]);
    expect(api.json).toMatchObject({ access_token_ttl: 300 });
    expect((await run(remote, ['resources', 'update', 'https://remote.example.test/', '--name', 'Renamed', '--json'])).json).toMatchObject({
      name: 'Renamed',
    });

    const client = await run(remote, ['clients', 'create', '--name', 'Remote job', '--grant', 'client_credentials', '--json']);
    expect(client.code, client.stderr).toBe(0);
    const { client_id: clientId } = client.json as { client_id: string; client_secret: string };
    expect(clientId).toMatch(/^[A-Za-z0-9]/);
    const granted = await run(remote, [
      'clients',
      'grant',
      clientId,
      '--resource',
      'https://remote.example.test/',
      '--scope',
      'r:read',
      '--default',
      '--json',
    ]);
    expect(granted.json).toMatchObject({
      api_access: [{ resource: 'https://remote.example.test/', scopes: ['r:read'] }],
      default_resource: 'https://remote.example.test/',
    });
    expect((await run(remote, ['clients', 'set', clientId, '--require-pkce', 'true', '--json'])).json).toMatchObject({
      require_pkce: true,
    });
    expect((await run(remote, ['clients', 'update', clientId, '--name', 'Remote job 2', '--json'])).json).toMatchObject({
      client_name: 'Remote job 2',
    });
    expect((await run(remote, ['users', 'revoke-sessions', id, '--json'])).json).toEqual({ id, sessions_ended: true });
    expect((await run(remote, ['clients', 'rotate-secret', clientId, '--json'])).json).toMatchObject({
      client_id: clientId,
      client_secret: expect.any(String),
    });

    const role = await run(remote, [
      'roles',
      'create',
      'remote_ops',
      '--resource',
      'https://remote.example.test/',
      '--scope',
      'r:read',
      '--json',
    ]);
    expect(role.json).toMatchObject({ name: 'remote_ops', permissions: [{ resource: 'https://remote.example.test/', scope: 'r:read' }] });
    expect((await run(remote, ['roles', 'update', 'remote_ops', '--description', 'Remote operators', '--json'])).json).toMatchObject({
      description: 'Remote operators',
    });
    expect((await run(remote, ['roles', 'delete', 'remote_ops', '--json'])).json).toEqual({ name: 'remote_ops', deleted: true });

    expect((await run(remote, ['clients', 'delete', clientId])).code).toBe(0);
    expect((await run(remote, ['resources', 'delete', 'https://remote.example.test/'])).code).toBe(0);
    expect((await run(remote, ['users', 'delete', id])).code).toBe(0);

    const events = (await run(remote, ['events', 'list', '--since', '10m', '--all', '--json'])).json as { type: string; actor: string }[];
    expect(events.find((event) => event.type === 'user.created')?.actor).toBe(`client:${adminClientId}`);
    expect(events.find((event) => event.type === 'client.deleted')?.actor).toBe(`client:${adminClientId}`);
  });

  it('prints the same as --local, as text and as JSON', async () => {
    const { user, client } = started.sample;
    for (const args of [
      ['users', 'show', user.id],
      ['users', 'list', '--all'],
      ['users', 'sign-in', user.id],
      ['users', 'mfa', user.id],
      ['users', 'permissions', user.id],
      ['clients', 'show', client.client_id],
      ['clients', 'list', '--limit', '2'],
      ['resources', 'list', '--all'],
      ['resources', 'show', 'https://api.example.test/'],
      ['roles', 'list'],
      ['roles', 'show', 'engineer'],
      ['keys', 'list'],
      ['events', 'list', '--type', 'client.created', '--all'],
      ['events', 'list', '--actor', 'system', '--until', '2999-01-01T00:00:00Z', '--all'],
      ['events', 'list', '--subject', user.id, '--all'],
      ['users', 'list', '--search', 'LOVELACE'],
      ['clients', 'list', '--search', 'sample', '--all'],
    ]) {
      for (const format of [[], ['--json']]) {
        const there = await run(remote, [...args, ...format]);
        const here = await run(local, [...args, ...format]);
        expect(there.code, `${args.join(' ')}: ${there.stderr}`).toBe(0);
        expect(there.stdout, args.join(' ')).toBe(here.stdout);
        expect(there.stderr, args.join(' ')).toBe(here.stderr);
      }
    }
  });

  it('gives the same errors as --local, as lines and as JSON', async () => {
    for (const args of [
      ['users', 'show', 'no-such-user'],
      ['clients', 'show', 'no-such-client'],
      ['users', 'create', '--email', 'ada@example.test', '--password', 'a long enough password'],
      ['keys', 'rotate'],
      ['roles', 'delete', 'admin'],
      ['resources', 'create', '--identifier', 'https://x.example.test/', '--name', 'X', '--scope', 'bad scope'],
      ['events', 'list', '--type', 'nonsense'],
      ['keys', 'revoke', 'no-such-kid'],
      ['users', 'send-reset-link', 'no-such-user'],
    ]) {
      for (const format of [[], ['--json']]) {
        const there = await run(remote, [...args, ...format]);
        const here = await run(local, [...args, ...format]);
        expect(there.code, args.join(' ')).toBe(3);
        expect(here.code, args.join(' ')).toBe(3);
        expect(there.stderr, args.join(' ')).toBe(here.stderr);
      }
    }
    const json = await run(remote, ['users', 'show', 'no-such-user', '--json']);
    expect(JSON.parse(json.stderr)).toEqual({ error: 'not_found', error_description: 'nothing at /users/"no-such-user"' });
    expect(json.stdout).toBe('');
  });

  it('with a client that may only read clients: reads them, and gets 403 insufficient_scope for the rest', async () => {
    const listed = await run(reader, ['clients', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const create = await run(reader, ['clients', 'create', '--name', 'Nope', '--grant', 'client_credentials', '--json']);
    expect(create.code).toBe(3);
    expect(JSON.parse(create.stderr)).toEqual({
      error: 'insufficient_scope',
      error_description: 'this endpoint needs the scope admin:clients:write (or admin)',
    });
    const users = await run(reader, ['users', 'list']);
    expect(users.code).toBe(3);
    expect(users.stderr.trim()).toBe('gatehouse users list: insufficient_scope: this endpoint needs the scope admin:users:read (or admin)');
  });

  it('says plainly when the client credentials are refused (401) or the server cannot be reached', async () => {
    const wrong = await run({ ...reader, GATEHOUSE_CLIENT_SECRET: 'not-the-secret' }, ['clients', 'list', '--json']);
    expect(wrong.code).toBe(3);
    expect(JSON.parse(wrong.stderr)).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringContaining('the server refused the client credentials of'),
    });

    // A port nothing listens on (free a moment ago).
    const nowhere = `http://127.0.0.1:${await testPort()}`;
    const unreachable = await run({ ...remote, GATEHOUSE_URL: nowhere }, ['users', 'list']);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr.trim()).toBe(`gatehouse users list: cannot reach ${nowhere}: ECONNREFUSED`);
    const unreachableJson = await run({ ...remote, GATEHOUSE_URL: nowhere }, ['users', 'list', '--json']);
    expect(JSON.parse(unreachableJson.stderr)).toEqual({
      error: 'unreachable',
      error_description: `cannot reach ${nowhere}: ECONNREFUSED`,
    });

    const halfConfigured = await run({ GATEHOUSE_URL: started.gatehouse.url, GATEHOUSE_CLIENT_ID: 'x' }, ['users', 'list']);
    expect(halfConfigured).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('set both GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET'),
    });
  });

  it('logs in (token stored 0600 in the config dir), works without --url, and logs out back to the database', async () => {
    const config = await mkdtemp(join(tmpdir(), 'gatehouse-cli-config-'));
    const home = { ...local, XDG_CONFIG_HOME: config };
    const login = await run({ ...home, ...remote }, ['login', '--json']);
    expect(login.code, login.stderr).toBe(0);
    expect(login.json).toMatchObject({ url: started.gatehouse.url, client_id: adminClientId, expires_at: expect.any(String) });
    const file = join(config, 'gatehouse', 'login.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(remote.GATEHOUSE_CLIENT_SECRET_FILE ?? 'never');

    // No URL, no secret: the stored login (the database settings are there, but not used).
    const created = await run(home, [
      'users',
      'create',
      '--email',
      'stored@example.test',
      '--password',
      'a stored login password',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const subject = (created.json as { id: string }).id;
    const actorOf = async () => (await started.gatehouse.prisma.event.findFirst({ where: { subject }, orderBy: { id: 'desc' } }))?.actor;
    expect(await actorOf()).toBe(`client:${adminClientId}`);
    // --local still reaches the database.
    expect((await run(home, ['users', 'disable', subject, '--local'])).code).toBe(0);
    expect(await actorOf()).toBe('cli');

    expect((await run(home, ['logout', '--json'])).json).toEqual({ logged_out: true, url: started.gatehouse.url });
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await run(home, ['users', 'disable', subject, '--enable'])).code).toBe(0);
    expect(await actorOf()).toBe('cli');
  });

  it('revokes a signing key remotely in an emergency, and keeps working with the new key', async () => {
    const keys = (await run(remote, ['keys', 'list', '--json'])).json as { kid: string; status: string }[];
    const current = keys.find((key) => key.status === 'current')?.kid ?? '';
    const revoked = await run(remote, ['keys', 'revoke', current, '--json']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.json).toMatchObject({ revoked: current, previous_status: 'current', current: expect.any(String) });
    const jwks = (await (await fetch(`${started.gatehouse.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).not.toContain(current);
    // A new admin token (signed by the new key) is fetched for the next command.
    const again = await run(remote, ['keys', 'revoke', current, '--json']);
    expect(again.code).toBe(3);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: 'key_revoked' });
    expect((await run(remote, ['keys', 'revoke', 'no-such-kid'])).stderr).toContain('not_found');
    const role = await run(remote, ['roles', 'create', 'strict_ops', '--require-mfa', '--json']);
    expect(role.json).toMatchObject({ name: 'strict_ops', require_mfa: true });
    expect((await run(remote, ['roles', 'update', 'strict_ops', '--require-mfa', 'false', '--json'])).json).toMatchObject({
      require_mfa: false,
    });
  });

  it('works through the real gatehouse command (a spawned process)', async () => {
    const listed = await runCli(['clients', 'show', started.sample.client.client_id, '--json'], remote);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ client_id: started.sample.client.client_id, client_name: 'Sample App' });
  });

  it('logs a person in with the device flow, audits their changes as them, renews the token when it expires, and revokes it at logout', async () => {
    const { gatehouse } = started;
    const cli = await gatehouse.clients.registerClient({
      client_name: 'Gatehouse CLI',
      grant_types: [DEVICE_GRANT, 'refresh_token'],
      token_endpoint_auth_method: 'none',
      api_access: [{ resource: `${gatehouse.issuer}/admin`, scopes: ['admin'] }],
    });
    const person = await gatehouse.users.createUser({
      email: 'operator@example.test',
      password: PASSWORD,
      roles: ['admin'],
      emailVerified: true,
    });
    const environment = { XDG_CONFIG_HOME: await mkdtemp(join(tmpdir(), 'gatehouse-cli-config-')) };

    // The CLI shows the code on stderr while it polls; the person confirms it on the pages.
    const stdout: string[] = [];
    const stderr: string[] = [];
    let showCode: (line: string) => void = () => {};
    const shown = new Promise<string>((resolve) => (showCode = resolve));
    const login = runCliMain(['login', '--device', '--url', gatehouse.url, '--client-id', cli.client_id, '--json'], environment, {
      stdout: (text) => void stdout.push(text),
      stderr: (text) => {
        stderr.push(text);
        if (text.startsWith('To sign in')) showCode(text);
      },
      readStdin: async () => '',
    });
    const failed = login.then((exit) => `login ended (${exit}) before showing a code: ${stderr.join('\n')}`);
    const line = await Promise.race([shown, failed]);
    const [, uri = '', code = ''] = /open (\S+) and confirm the code (\S+)/.exec(line) ?? [];
    expect(code, line).not.toBe('');
    expect(uri).toBe(`${gatehouse.issuer}/device?user_code=${code}`);
    await approveOnPages(`${gatehouse.issuer}/device`, code, { email: 'operator@example.test' });
    expect(await login).toBe(0);
    expect(JSON.parse(stdout.join(''))).toMatchObject({ url: gatehouse.url, client_id: cli.client_id, renews: true });

    const created = await run(environment, ['roles', 'create', 'device_made', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const subject = (created.json as { id: string }).id;
    expect((await gatehouse.prisma.event.findFirst({ where: { subject } }))?.actor).toBe(`user:${person.id}`);

    // Expired: the refresh token (rotated, and stored again 0600) gets a new access token.
    const file = join(environment.XDG_CONFIG_HOME, 'gatehouse', 'login.json');
    const before = JSON.parse(await readFile(file, 'utf8')) as { refresh_token: string };
    await writeFile(file, JSON.stringify({ ...before, expires_at: '2020-01-01T00:00:00.000Z' }));
    const renewed = await run(environment, ['roles', 'show', 'device_made', '--json']);
    expect(renewed.code, renewed.stderr).toBe(0);
    const after = JSON.parse(await readFile(file, 'utf8')) as { refresh_token: string; expires_at: string };
    expect(Date.parse(after.expires_at)).toBeGreaterThan(Date.now());
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    // Logout revokes the refresh token (RFC 7009): a copy of the file is worth nothing after.
    // (The stored one was just issued by the renewal above and never used.)
    const { refresh_token: stored } = JSON.parse(await readFile(file, 'utf8')) as { refresh_token: string };
    expect((await run(environment, ['logout', '--json'])).json).toEqual({
      logged_out: true,
      url: gatehouse.url,
      refresh_token_revoked: true,
    });
    const reuse = await fetch(`${gatehouse.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored, client_id: cli.client_id }),
    });
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('says that a stored login expired, and how to renew it', async () => {
    const config = await mkdtemp(join(tmpdir(), 'gatehouse-cli-config-'));
    await mkdir(join(config, 'gatehouse'), { recursive: true });
    const url = started.gatehouse.url;
    await writeFile(
      join(config, 'gatehouse', 'login.json'),
      JSON.stringify({ url, client_id: adminClientId, access_token: 'expired.token.value', expires_at: '2020-01-01T00:00:00.000Z' }),
      { mode: 0o600 },
    );
    const expired = await run({ XDG_CONFIG_HOME: config }, ['users', 'list', '--json']);
    expect(expired.code).toBe(3);
    expect(JSON.parse(expired.stderr)).toEqual({
      error: 'invalid_token',
      error_description: `the stored login for ${url} expired at 2020-01-01T00:00:00.000Z: run gatehouse login --url ${url} again`,
    });
    // A token the server no longer takes (here: not a token at all) is the server's 401, said as it is.
    await writeFile(
      join(config, 'gatehouse', 'login.json'),
      JSON.stringify({ url, client_id: adminClientId, access_token: 'not-a-token', expires_at: '2999-01-01T00:00:00.000Z' }),
    );
    const refused = await run({ XDG_CONFIG_HOME: config }, ['users', 'list']);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('gatehouse users list: invalid_token: ');
  });
});
