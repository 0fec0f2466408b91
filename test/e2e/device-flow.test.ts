import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from '../support/browser.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { approveOnPages, continueFromConfirmPage, DEVICE_GRANT, pollOnce, registerDeviceApp } from '../support/device.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { API, discover, PASSWORD, registerSampleApp } from '../support/sample-app.js';

const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

describe('device authorization grant (RFC 8628)', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let device: oidc.Configuration;
  let deviceClientId: string;

  const start = (scope = 'openid email offline_access', extra: Record<string, string> = {}) =>
    oidc.initiateDeviceAuthorization(device, { scope, ...extra });

  /** Moves a device code's expiry into the past, as time passing would. */
  const expireDeviceCodes = () =>
    gatehouse.prisma.$executeRawUnsafe(
      `UPDATE oidc_payloads SET expires_at = now() - interval '1 second',
       payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch from now())::int - 1))
     WHERE model = 'DeviceCode' AND consumed_at IS NULL`,
    );

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    // A one-second interval keeps openid-client's polling quick.
    gatehouse = await startTestGatehouse(databaseUrl, { GATEHOUSE_DEVICE_POLL_INTERVAL: '1' });
    sample = await registerSampleApp(gatehouse);
    const registered = await registerDeviceApp(gatehouse);
    device = registered.device;
    deviceClientId = registered.client.client_id;
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('publishes the device authorization endpoint and grant in discovery', () => {
    const metadata = device.serverMetadata();
    expect(metadata.device_authorization_endpoint).toBe(`${gatehouse.issuer}/device/auth`);
    expect(metadata.grant_types_supported).toContain(DEVICE_GRANT);
  });

  it('answers a device authorization request with codes, the verification URIs, expiry and interval', async () => {
    const response = await start();
    expect(response.user_code).toMatch(USER_CODE);
    expect(response.device_code.length).toBeGreaterThanOrEqual(32);
    expect(response.verification_uri).toBe(`${gatehouse.issuer}/device`);
    expect(response.verification_uri_complete).toBe(`${gatehouse.issuer}/device?user_code=${response.user_code}`);
    expect(response.expires_in).toBe(600);
    expect(response.interval).toBe(1);
  });

  it('signs a device in: pending, approved through the pages, then RS256 ID token, JWT access token and refresh token', async () => {
    const response = await start('openid email offline_access items:read', { resource: API });
    expect(await pollOnce(device, response.device_code)).toMatchObject({ error: 'authorization_pending' });

    const done = await approveOnPages(response.verification_uri, response.user_code);
    expect(done.status).toBe(200);
    expect(done.html).toContain('Device connected');
    expect(done.html).toContain('Living Room TV');

    const tokens = await oidc.pollDeviceAuthorizationGrant(device, response);
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.issuer}/jwks`));
    const idToken = await jwtVerify(tokens.id_token as string, jwks, {
      issuer: gatehouse.issuer,
      audience: deviceClientId,
      algorithms: ['RS256'],
    });
    expect(idToken.payload).toMatchObject({ sub: sample.user.id, email: 'ada@example.test' });
    const accessToken = await jwtVerify(tokens.access_token, jwks, {
      issuer: gatehouse.issuer,
      audience: API,
      typ: 'at+jwt',
      algorithms: ['RS256'],
    });
    expect(accessToken.payload).toMatchObject({ sub: sample.user.id, client_id: deviceClientId, scope: 'items:read' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    // The token response's scope is the access token's: the API's scope.
    expect(tokens.scope).toBe('items:read');

    const refreshed = await oidc.refreshTokenGrant(device, tokens.refresh_token as string);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
  });

  it('issues no refresh token without offline_access', async () => {
    const response = await start('openid');
    await approveOnPages(response.verification_uri, response.user_code);
    const { tokens } = await pollOnce(device, response.device_code);
    expect(tokens?.id_token).toEqual(expect.any(String));
    expect(tokens?.refresh_token).toBeUndefined();
  });

  it('names the client, the scopes and the API on the confirmation page', async () => {
    const response = await start('openid email offline_access items:read', { resource: API });
    const browser = new Browser();
    const entry = await browser.open(response.verification_uri);
    const confirm = await browser.submit(entry, '/device', { user_code: response.user_code });
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain('Connect Living Room TV?');
    expect(confirm.html).toContain(response.user_code);
    for (const text of [
      'Sign you in',
      'See your email address',
      'Stay signed in when you are not using it',
      'Items API',
      'Read your items',
    ]) {
      expect(confirm.html).toContain(text);
    }
    expect(confirm.html).not.toContain('<script');
  });

  it('prefills the code from verification_uri_complete but still asks the user to submit and confirm it', async () => {
    const response = await start('openid');
    const browser = new Browser();
    const entry = await browser.open(response.verification_uri_complete as string);
    expect(entry.status).toBe(200);
    expect(entry.html).toContain(`value="${response.user_code}"`);
    expect(entry.html).not.toContain('<script');
    expect(await pollOnce(device, response.device_code)).toMatchObject({ error: 'authorization_pending' });

    const confirm = await browser.submit(entry, '/device');
    expect(confirm.html).toContain('name="confirm"');

    const done = await continueFromConfirmPage(browser, confirm);
    expect(done.html).toContain('Device connected');
    expect((await pollOnce(device, response.device_code)).tokens?.id_token).toEqual(expect.any(String));
  });

  it.each([
    ['lower case without the dash', (code: string) => code.replace('-', '').toLowerCase()],
    ['with spaces instead of the dash', (code: string) => ` ${code.slice(0, 4).toLowerCase()} ${code.slice(5)} `],
  ])('accepts the code typed %s', async (_how, typed) => {
    const response = await start('openid');
    const done = await approveOnPages(response.verification_uri, response.user_code, { typed: typed(response.user_code) });
    expect(done.html).toContain('Device connected');
    expect((await pollOnce(device, response.device_code)).tokens?.id_token).toEqual(expect.any(String));
  });

  it('answers access_denied when the user denies on the confirmation page', async () => {
    const response = await start();
    const done = await approveOnPages(response.verification_uri, response.user_code, { deny: 'on-confirm-page' });
    expect(done.status).toBe(200);
    expect(done.html).toContain('Device not connected');
    expect(done.html).toContain('Living Room TV');
    expect(await pollOnce(device, response.device_code)).toMatchObject({ error: 'access_denied' });
  });

  it('shows the scopes once: after the confirmation page and sign-in, no consent page', async () => {
    const response = await start('openid profile');
    const done = await approveOnPages(response.verification_uri, response.user_code, { deny: 'on-consent-page' });
    // Had a consent page appeared, the helper would have denied on it.
    expect(done.html).toContain('Device connected');
    expect((await pollOnce(device, response.device_code)).tokens).toBeDefined();
  });

  it('asks a phone whose user was disabled or deleted in the database alone to sign in again, and refuses a code that user approved: never a server error', async () => {
    for (const [email, change] of [
      ['grace@example.test', (id: string) => gatehouse.prisma.$executeRaw`UPDATE users SET disabled = true WHERE id = ${id}::uuid`],
      ['hedy@example.test', (id: string) => gatehouse.prisma.$executeRaw`DELETE FROM users WHERE id = ${id}::uuid`],
    ] as const) {
      const user = await gatehouse.users.createUser({ email, password: PASSWORD });
      const browser = new Browser();
      const first = await start('openid');
      expect((await approveOnPages(first.verification_uri, first.user_code, { browser, email })).html).toContain('Device connected');
      // Approved by the user, not yet collected by the device.
      const approved = await start('openid');
      expect((await approveOnPages(approved.verification_uri, approved.user_code, { browser })).html).toContain('Device connected');

      await change(user.id);
      // RFC 8628 §3.5: the device gets a token error, not tokens for a user who can no longer sign in.
      expect(await pollOnce(device, approved.device_code), email).toMatchObject({ error: 'invalid_grant', status: 400 });

      // The same phone, still holding its session cookie, approves another device: it signs in again.
      const next = await start('openid');
      const entry = await browser.open(next.verification_uri);
      const confirm = await browser.submit(entry, '/device', { user_code: next.user_code });
      const afterConfirm = await browser.submit(confirm, '/device', { confirm: 'yes' });
      expect(afterConfirm.status, email).toBe(200);
      expect(afterConfirm.html, email).toContain('name="password"');
    }
  });

  it('answers expired_token once the device code has expired, and says so on the page', async () => {
    const response = await start();
    await expireDeviceCodes();
    expect(await pollOnce(device, response.device_code)).toMatchObject({ error: 'expired_token' });

    const browser = new Browser();
    const entry = await browser.open(response.verification_uri);
    const again = await browser.submit(entry, '/device', { user_code: response.user_code });
    expect(again.status).toBe(400);
    expect(again.html).toContain('That code has expired');
    expect(again.html).toContain('name="user_code"');
  });

  it('refuses a replayed device code and revokes what the first exchange issued', async () => {
    const response = await start();
    await approveOnPages(response.verification_uri, response.user_code);
    const { tokens } = await pollOnce(device, response.device_code);
    expect(tokens?.refresh_token).toEqual(expect.any(String));

    expect(await pollOnce(device, response.device_code)).toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(device, tokens?.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('says on the page that a code was already used', async () => {
    const response = await start('openid');
    await approveOnPages(response.verification_uri, response.user_code);
    const browser = new Browser();
    const entry = await browser.open(response.verification_uri);
    const again = await browser.submit(entry, '/device', { user_code: response.user_code });
    expect(again.status).toBe(400);
    expect(again.html).toContain('That code was already used');
  });

  it('serves the device pages uncached, unframeable, and keeps codes out of the log', async () => {
    const response = await start('openid');
    const page = await new Browser().open(response.verification_uri_complete as string);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    await pollOnce(device, response.device_code);
    const log = gatehouse.log.lines.join('\n');
    expect(log).toContain('GET /device 200');
    expect(log).not.toContain(response.user_code);
    expect(log).not.toContain(response.device_code);
  });

  it('answers slow_down when the device polls again before the interval has passed', async () => {
    // A database of its own: instances that share one share ISSUER, and this one is discovered at its own address.
    const slowDatabase = await createTestDatabase();
    const slow = await startTestGatehouse(slowDatabase, { GATEHOUSE_DEVICE_POLL_INTERVAL: '1h' });
    try {
      const slowDevice = await discover(slow, (await registerDeviceApp(slow, 'Slow TV')).client);
      const response = await oidc.initiateDeviceAuthorization(slowDevice, { scope: 'openid' });
      expect(response.interval).toBe(3600);
      expect(await pollOnce(slowDevice, response.device_code)).toMatchObject({ error: 'authorization_pending' });
      expect(await pollOnce(slowDevice, response.device_code)).toMatchObject({ error: 'slow_down', status: 400 });
    } finally {
      await slow.stop();
      await dropTestDatabase(slowDatabase);
    }
  });

  it('shows a clear message for a wrong code, and for no code, without a stack trace', async () => {
    const browser = new Browser();
    let page = await browser.open(`${gatehouse.issuer}/device`);
    for (const [typed, message] of [
      ['BCDF-GHJK', 'That code is not valid'],
      ['', 'Enter the code shown on your device'],
      ['<script>x</script>', 'That code is not valid'],
    ] as const) {
      // Each answer carries a fresh xsrf token: post the form it shows.
      page = await browser.submit(page, '/device', { user_code: typed });
      expect(page.status).toBe(400);
      expect(page.html).toContain(message);
      expect(page.html).toContain('name="user_code"');
      expect(page.html).not.toMatch(/at .*\.js:\d+|Error:/);
      expect(page.html).not.toContain('<script>x</script>');
    }
  });

  it('refuses a form posted without its xsrf token', async () => {
    const browser = new Browser();
    await browser.open(`${gatehouse.issuer}/device`);
    const response = await browser.fetch(`${gatehouse.issuer}/device`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ user_code: 'BCDF-GHJK', xsrf: 'forged' }),
    });
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('The form expired or did not come from this site');
  });

  it('answers unauthorized_client to a client without the device grant', async () => {
    const app = await discover(gatehouse, sample.client);
    await expect(oidc.initiateDeviceAuthorization(app, { scope: 'openid' })).rejects.toMatchObject({
      error: 'unauthorized_client',
      status: 400,
    });
    const response = await start();
    expect(await pollOnce(app, response.device_code)).toMatchObject({ error: 'unauthorized_client' });
  });

  it('answers invalid_client for an unknown client and invalid_grant for an unknown device code', async () => {
    const response = await fetch(`${gatehouse.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'no-such-client', scope: 'openid' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'invalid_client' });
    expect(await pollOnce(device, 'not-a-device-code')).toMatchObject({ error: 'invalid_grant' });
  });

  it('answers garbage at the device endpoints and pages with 4xx, never a 500 or a stack trace', async () => {
    const browser = new Browser();
    const entry = await browser.open(`${gatehouse.issuer}/device`);
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(entry.html)?.[1] as string;
    const form = (body: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    const requests: [string, RequestInit | undefined][] = [
      ['/device', form(`xsrf=${xsrf}&user_code=A&user_code=B`)],
      ['/device', form(`xsrf=${xsrf}&user_code=${'Z'.repeat(5000)}`)],
      ['/device', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_code":' }],
      ['/device', form('%%%')],
      ['/device/no-such-interaction', undefined],
      ['/device/auth', form('scope=openid')],
      ['/device/auth', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }],
      ['/device/auth', form(`client_id=${deviceClientId}&scope=openid&scope=email`)],
      ['/token', form(`grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=${deviceClientId}`)],
      ['/token', form(`grant_type=${encodeURIComponent(DEVICE_GRANT)}&client_id=${deviceClientId}&device_code=`)],
    ];
    for (const [path, init] of requests) {
      const response = await browser.fetch(`${gatehouse.issuer}${path}`, init);
      const body = await response.text();
      expect(response.status, `${init?.method ?? 'GET'} ${path}`).toBeGreaterThanOrEqual(400);
      expect(response.status, `${init?.method ?? 'GET'} ${path}`).toBeLessThan(500);
      expect(body).not.toMatch(/at .*\.(js|ts):\d+/);
    }
    // A malformed prefilled code just shows the entry form.
    const malformed = await browser.open(`${gatehouse.issuer}/device?user_code=%E0%A4%A`);
    expect(malformed.status).toBe(200);
    expect(malformed.html).toContain('name="user_code"');
    expect(gatehouse.log.lines.filter((line) => line.startsWith('error'))).toEqual([]);
  });
});
