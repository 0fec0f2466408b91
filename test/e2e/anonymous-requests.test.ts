import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDeviceApp } from '../support/device.js';
import { authorizationRequestWithPkce, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

describe('anonymous requests cannot grow the database without bound', () => {
  let started: Awaited<ReturnType<typeof startWithSampleApp>>;

  beforeAll(async () => {
    started = await startWithSampleApp({
      GATEHOUSE_TRUST_PROXY: 'true',
      GATEHOUSE_INTERACTION_TTL: '10m',
      GATEHOUSE_ADMIN_AUTH_FAILURES: '5',
      GATEHOUSE_FLOW_STARTS_PER_IP: '5',
    });
  });
  afterAll(() => stopAndDrop(started?.gatehouse, started?.databaseUrl));

  const hoursLeft = async (where: string) => {
    const rows = await started.gatehouse.prisma.$queryRawUnsafe<{ hours: number }[]>(
      `SELECT extract(epoch FROM max(expires_at) - now()) / 3600 AS hours FROM oidc_payloads WHERE model = 'Session' AND ${where}`,
    );
    return Number(rows[0]?.hours);
  };

  it('keeps a session nobody signed in to only as long as an interaction', async () => {
    const response = await fetch(`${started.gatehouse.url}/device`, { headers: { 'x-forwarded-for': '192.0.2.60' } });
    expect(response.status).toBe(200);
    expect(await hoursLeft(`payload->>'accountId' IS NULL`)).toBeLessThanOrEqual(10 / 60);

    await signIn(started.config);
    expect(await hoursLeft(`payload->>'accountId' = '${started.sample.user.id}'`)).toBeGreaterThan(13 * 24);
  });

  it('looks at 5 failed admin authentications per IP a minute, recorded as one event with a count', async () => {
    const call = (ip: string) =>
      fetch(`${started.gatehouse.url}/admin/users`, { headers: { authorization: 'Bearer x', 'x-forwarded-for': ip } });
    const statuses = [];
    for (let attempt = 1; attempt <= 7; attempt += 1) statuses.push((await call('198.51.100.61')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    const limited = await call('198.51.100.61');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await limited.json()).toMatchObject({ error: 'too_many_requests' });

    const events = await started.gatehouse.prisma.event.findMany({
      where: { type: 'admin.authentication_failed', clientIp: '198.51.100.61' },
    });
    expect(events).toHaveLength(1);
    expect(events[0]?.details).toMatchObject({ count: 5 });
    expect((await call('198.51.100.62')).status).toBe(401);
  });

  it('limits sign-in and device authorization requests per IP', async () => {
    const authorize = async (ip: string) => {
      const { url } = await authorizationRequestWithPkce(started.config, { scope: 'openid' });
      return fetch(url.replace(started.gatehouse.issuer, started.gatehouse.url), {
        headers: { 'x-forwarded-for': ip },
        redirect: 'manual',
      });
    };
    const before = await started.gatehouse.prisma.oidcPayload.count({ where: { model: 'Interaction' } });
    for (let attempt = 1; attempt <= 5; attempt += 1) expect((await authorize('203.0.113.63')).status).toBe(303);
    const refused = await authorize('203.0.113.63');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await refused.text()).toContain('temporarily_unavailable');
    expect(await started.gatehouse.prisma.oidcPayload.count({ where: { model: 'Interaction' } })).toBe(before + 5);
    expect((await authorize('203.0.113.64')).status).toBe(303);

    const { client } = await registerDeviceApp(started.gatehouse);
    const deviceAuthorization = (path: string) =>
      fetch(`${started.gatehouse.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '203.0.113.65' },
        body: new URLSearchParams({ client_id: client.client_id, scope: 'openid' }),
      });
    for (const path of ['/device/auth', '/device/auth/', '/DEVICE/auth', '/device/auth', '/device/auth']) {
      expect((await deviceAuthorization(path)).status).toBe(200);
    }
    const tooMany = await deviceAuthorization('/device/auth');
    expect(tooMany.status).toBe(429);
    expect(await tooMany.json()).toMatchObject({ error: 'temporarily_unavailable' });
  });
});
