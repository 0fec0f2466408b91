import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { approveOnPages, pollOnce, registerDeviceApp } from '../support/device.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { discover, registerSampleApp } from '../support/sample-app.js';

describe('device flow across restarts and instances (everything in Postgres)', () => {
  let databaseUrl: string;
  let first: TestGatehouse;
  let second: TestGatehouse | undefined;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    // An hour-long interval: any second poll of a pending code is too early.
    first = await startTestGatehouse(databaseUrl, { GATEHOUSE_DEVICE_POLL_INTERVAL: '1h' });
    await registerSampleApp(first);
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('finishes a device flow begun before a restart', async () => {
    const { client } = await registerDeviceApp(first);
    const response = await oidc.initiateDeviceAuthorization(await discover(first, client), { scope: 'openid offline_access' });
    expect(await pollOnce(await discover(first, client), response.device_code)).toMatchObject({ error: 'authorization_pending' });

    await first.stop();
    first = await startTestGatehouse(databaseUrl, first.environment);

    const device = await discover(first, client);
    // The poll before the restart still counts: too early.
    expect(await pollOnce(device, response.device_code)).toMatchObject({ error: 'slow_down' });
    const done = await approveOnPages(response.verification_uri, response.user_code);
    expect(done.html).toContain('Device connected');
    const { tokens } = await pollOnce(device, response.device_code);
    expect(tokens?.id_token).toEqual(expect.any(String));
    expect(tokens?.refresh_token).toEqual(expect.any(String));
  });

  it('signs in a device polling one instance while the user approves on another', async () => {
    // A second instance behind the same issuer, as behind a load balancer.
    second = await startTestGatehouse(databaseUrl, { ...first.environment, PORT: '0', GATEHOUSE_DEVICE_POLL_INTERVAL: '1h' });
    const { client } = await registerDeviceApp(first, 'Kitchen TV');
    const onFirst = await discover(first, client);
    const response = await oidc.initiateDeviceAuthorization(onFirst, { scope: 'openid email' });
    expect(await pollOnce(onFirst, response.device_code)).toMatchObject({ error: 'authorization_pending' });

    // The poll pace is shared: polling the other instance at once is still too early
    // (discovery names the shared issuer, so this poll goes to the second URL by hand).
    const secondTokenEndpoint = await fetch(`${second.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: response.device_code,
        client_id: client.client_id,
      }),
    });
    expect(await secondTokenEndpoint.json()).toMatchObject({ error: 'slow_down' });

    const done = await approveOnPages(`${second.url}/device`, response.user_code);
    expect(done.html).toContain('Device connected');
    expect(done.url.startsWith(second.url)).toBe(true);

    const { tokens } = await pollOnce(onFirst, response.device_code);
    expect(tokens?.id_token).toEqual(expect.any(String));
    expect(tokens?.claims()?.email).toBe('ada@example.test');
  });
});
