import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, TEST_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import { Browser } from '../support/browser.js';

const root = new URL('../../', import.meta.url);

/** Runs the real `gatehouse` command (`npm run gatehouse -- …` without npm). */
function gatehouseCli(args: string[], environment: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/bin.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...environment },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

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
    const created = await gatehouseCli(
      ['clients', 'create', '--name', 'Nightly job', '--grant', 'client_credentials', '--scope', 'reports:read', '--default-resource', 'https://reports.example.test/', '--json'],
      environment,
    );
    expect(created.code).toBe(0);
    const client = JSON.parse(created.stdout) as { client_id: string; client_secret: string; redirect_uris: string[] };
    expect(client.redirect_uris).toEqual([]);
    const tokenStatus = async (secret: string) => {
      const response = await fetch(`${gatehouse.issuer}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      const body = (await response.json()) as { scope?: string };
      return { status: response.status, scope: body.scope };
    };
    expect(await tokenStatus(client.client_secret)).toEqual({ status: 200, scope: 'reports:read' });

    const rotated = await gatehouseCli(['clients', 'rotate-secret', '--client-id', client.client_id, '--json'], environment);
    expect(rotated.code).toBe(0);
    const { client_secret: newSecret } = JSON.parse(rotated.stdout) as { client_secret: string };
    await expect.poll(async () => (await tokenStatus(client.client_secret)).status, { timeout: 15_000, interval: 100 }).toBe(401);
    expect((await tokenStatus(newSecret)).status).toBe(200);

    const deleted = await gatehouseCli(['clients', 'delete', '--client-id', client.client_id], environment);
    expect(deleted.code).toBe(0);
    await expect.poll(async () => (await tokenStatus(newSecret)).status, { timeout: 15_000, interval: 100 }).toBe(401);
    expect((await gatehouseCli(['clients', 'delete', '--client-id', client.client_id], environment)).code).toBe(3);
  });

  it('prints a readable record by default', async () => {
    const created = await gatehouseCli(['clients', 'create', '--name', 'Native', '--public', '--native', '--redirect-uri', 'com.example.app:/cb'], environment);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^client_id\s+\S+$/m);
    expect(created.stdout).toMatch(/^token_endpoint_auth_method\s+none$/m);
    expect(created.stdout).not.toContain('client_secret');
  });

  it('creates a user who can then sign in', async () => {
    const created = await gatehouseCli(['users', 'create', '--email', 'Cli@Example.test', '--password', 'a long cli password', '--name', 'Cli User', '--roles', 'admin, ops', '--json'], environment);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ email: 'cli@example.test', name: 'Cli User', roles: ['admin', 'ops'] });
    expect(`${created.stdout}${created.stderr}`).not.toContain('a long cli password');
    expect(await gatehouse.users.authenticate('cli@example.test', 'a long cli password')).not.toBeNull();
  });

  it('registers an API', async () => {
    const created = await gatehouseCli(['resources', 'create', '--identifier', 'https://cli.example.test/', '--name', 'CLI API', '--scope', 'a:read', '--scope', 'a:write', '--ttl', '300', '--json'], environment);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ identifier: 'https://cli.example.test/', scopes: ['a:read', 'a:write'], access_token_ttl: 300 });
  });

  it('exits 3 on rejected input, 2 on usage errors, 0 on --help', async () => {
    const badUri = await gatehouseCli(['clients', 'create', '--name', 'X', '--redirect-uri', 'javascript:alert(1)'], environment);
    expect(badUri.code).toBe(3);
    expect(badUri.stderr).toContain('invalid_redirect_uri');
    const duplicate = await gatehouseCli(['users', 'create', '--email', 'cli@example.test', '--password', 'a long cli password'], environment);
    expect(duplicate.code).toBe(3);
    expect(duplicate.stderr).toContain('email_taken');
    expect((await gatehouseCli(['users', 'create', '--unknown-flag'], environment)).code).toBe(2);
    expect((await gatehouseCli(['nonsense'], environment)).code).toBe(2);
    expect((await gatehouseCli(['users', 'create', '--email', 'x@example.test'], environment)).code).toBe(2);
    const help = await gatehouseCli(['--help'], environment);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('gatehouse clients create');
  });

  it('a client it creates shows its escaped name on the login page', async () => {
    const created = await gatehouseCli(['clients', 'create', '--name', 'Shown <Name>', '--redirect-uri', 'http://127.0.0.1:9999/cb', '--json'], environment);
    const { client_id } = JSON.parse(created.stdout) as { client_id: string };
    const url = new URL(`${gatehouse.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1:9999/cb',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
    }).toString();
    const page = await new Browser().open(url.toString());
    expect(page.html).toContain('Shown &lt;Name&gt;');
  });
});
