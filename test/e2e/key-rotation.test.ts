import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, type Page } from '../support/browser.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationRequestWithPkce, discover, PASSWORD, REDIRECT_URI, registerSampleApp, signIn } from '../support/sample-app.js';

// The check interval is long, so only the NOTIFY path can explain a prompt
// pick-up; the test ages the next key in the database instead of waiting out the lead time.
const KEY_SETTINGS = { GATEHOUSE_KEY_PUBLISH_LEAD: '2h', GATEHOUSE_JWKS_MAX_AGE: '1s', GATEHOUSE_KEY_CHECK_INTERVAL: '1h' };

describe('signing key rotation across instances', () => {
  let databaseUrl: string;
  let a: TestGatehouse;
  let b: TestGatehouse;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;

  const jwksOf = async (instance: TestGatehouse) => (await (await fetch(`${instance.url}/jwks`)).json()) as JSONWebKeySet;
  const kidsOf = async (instance: TestGatehouse) => (await jwksOf(instance)).keys.map((key) => key.kid);
  const ageNextKey = () =>
    a.prisma.$executeRawUnsafe("UPDATE signing_keys SET created_at = created_at - interval '1 day' WHERE status = 'next'");
  const refreshAt = async (instance: TestGatehouse, refreshToken: string) => {
    const response = await fetch(`${instance.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${sample.client.client_id}:${sample.client.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as { id_token: string; refresh_token: string; access_token: string };
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    a = await startTestGatehouse(databaseUrl, KEY_SETTINGS);
    // Both instances serve one issuer, as behind a load balancer.
    b = await startTestGatehouse(databaseUrl, { ...KEY_SETTINGS, ISSUER: a.issuer });
    sample = await registerSampleApp(a);
    config = await discover(a, sample.client);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('publishes the next key before it signs, with a cache lifetime shorter than the lead time', async () => {
    const response = await fetch(`${b.url}/jwks`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=1');
    const [current, next] = await a.keys.list();
    expect([current?.status, next?.status]).toEqual(['current', 'next']);
    expect(await kidsOf(a)).toEqual([current?.kid, next?.kid]);
    expect(await kidsOf(b)).toEqual([current?.kid, next?.kid]);
  });

  it('a rotation at one instance reaches the other without a restart, and nothing in flight breaks', async () => {
    const [oldCurrent, oldNext] = await a.keys.list();

    // Started before the rotation: a signed-in app with a refresh token, and a sign-in waiting at B's consent page.
    const { tokens } = await signIn(config, { scope: 'openid email offline_access', prompt: 'consent' });
    expect(decodeProtectedHeader(tokens.id_token as string).kid).toBe(oldCurrent?.kid);
    const browser = new Browser();
    const { url, codeVerifier } = await authorizationRequestWithPkce(config, { scope: 'openid', prompt: 'consent' });
    const authorize = new URL(url);
    let page: Page = await browser.open(`${b.url}${authorize.pathname}${authorize.search}`);
    page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD });
    expect(page.html).toContain('/confirm"');

    await ageNextKey();
    const rotation = await a.keys.rotate();
    expect(rotation).toMatchObject({ promoted: oldNext?.kid, retired: oldCurrent?.kid, created: expect.any(String) });

    // B publishes the new set: the promoted key first, the new next key, and the retired key until its tokens expire.
    const expected = [oldNext?.kid, rotation.created, oldCurrent?.kid];
    await expect.poll(() => kidsOf(b), { timeout: 15_000, interval: 100, message: "B's JWKS after rotation" }).toEqual(expected);
    const jwksAtB = createLocalJWKSet(await jwksOf(b));

    // A token signed before the rotation still verifies against B's JWKS.
    await jwtVerify(tokens.id_token as string, jwksAtB, { issuer: a.issuer, audience: sample.client.client_id });

    // The refresh flow started before completes at B, signed with the promoted key.
    const refreshed = await refreshAt(b, tokens.refresh_token as string);
    expect(decodeProtectedHeader(refreshed.id_token).kid).toBe(oldNext?.kid);
    await jwtVerify(refreshed.id_token, jwksAtB, { issuer: a.issuer, audience: sample.client.client_id });

    // The sign-in waiting at B's consent page finishes, and its ID token is signed with the promoted key.
    page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
    const exchanged = await oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: codeVerifier });
    expect(decodeProtectedHeader(exchanged.id_token as string).kid).toBe(oldNext?.kid);
    await jwtVerify(exchanged.id_token as string, jwksAtB, { issuer: a.issuer, audience: sample.client.client_id });
  });

  it('two instances racing a scheduled rotation rotate once', async () => {
    await ageNextKey();
    const due = new Date(Date.now() + 31 * 86400_000);
    const results = await Promise.all([a.keys.maintain(due), b.keys.maintain(due)]);
    expect(results.filter((result) => result.promoted)).toHaveLength(1);
    const statuses = (await a.keys.list()).map((key) => key.status);
    expect(statuses.filter((status) => status === 'current')).toHaveLength(1);
    expect(statuses.filter((status) => status === 'next')).toHaveLength(1);
  });

  it('never publishes a private parameter and never logs key material', async () => {
    const privateKeys = (await a.keys.load()).keys;
    for (const instance of [a, b]) {
      for (const jwk of (await jwksOf(instance)).keys) {
        for (const parameter of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(jwk).not.toHaveProperty(parameter);
      }
      const log = instance.log.lines.join('\n');
      expect(log).toContain('signing keys changed');
      for (const jwk of privateKeys) {
        for (const parameter of ['d', 'p', 'q']) expect(log).not.toContain(jwk[parameter] as string);
      }
    }
  });
});
