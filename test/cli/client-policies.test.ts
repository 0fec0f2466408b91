import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, runCliInProcess } from '../support/cli.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { TEST_SECRET } from '../support/gatehouse.js';

describe('gatehouse clients set', () => {
  let databaseUrl: string;
  let environment: Record<string, string>;
  let clientId: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    environment = { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET };
    const created = await runCli(
      ['clients', 'create', '--name', 'Express App', '--redirect-uri', 'http://127.0.0.1:9999/cb', '--json'],
      environment,
    );
    expect(created.code, created.stderr).toBe(0);
    clientId = (JSON.parse(created.stdout) as { client_id: string }).client_id;
  });
  afterAll(() => dropTestDatabase(databaseUrl));

  it('changes the per-client policies, as PATCH /admin/clients/:id does', async () => {
    const result = await runCli(
      [
        'clients',
        'set',
        clientId,
        '--require-pkce',
        'false',
        '--first-party',
        'true',
        '--backchannel-logout-uri',
        'https://app.example.test/logout',
        '--backchannel-logout-session-required',
        'true',
        '--require-par',
        'true',
        '--dpop-bound',
        'true',
        '--json',
      ],
      environment,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      client_id: clientId,
      require_pkce: false,
      first_party: true,
      backchannel_logout_uri: 'https://app.example.test/logout',
      backchannel_logout_session_required: true,
      require_pushed_authorization_requests: true,
      dpop_bound_access_tokens: true,
    });
  });

  it('removes the back-channel logout URI with an empty value', async () => {
    const removed = await runCliInProcess(['clients', 'set', clientId, '--backchannel-logout-uri', '', '--json'], environment);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).not.toHaveProperty('backchannel_logout_uri');
    expect(JSON.parse(removed.stdout)).toMatchObject({ require_pkce: false, first_party: true });
  });

  it('refuses bad values with a clear message and changes nothing', async () => {
    const notBoolean = await runCli(['clients', 'set', clientId, '--require-pkce', 'maybe'], environment);
    expect(notBoolean.code).toBe(2);
    expect(notBoolean.stderr).toContain('--require-pkce takes true or false');
    const badUri = await runCli(['clients', 'set', clientId, '--backchannel-logout-uri', 'http://app.example.test/logout#x'], environment);
    expect(badUri.code).toBe(3);
    expect(badUri.stderr).toContain('invalid_client_metadata: --backchannel-logout-uri is not valid: must not contain a fragment');
    const nothing = await runCli(['clients', 'set', clientId], environment);
    expect(nothing.code).toBe(2);
  });
});
