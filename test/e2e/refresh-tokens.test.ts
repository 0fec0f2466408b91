import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { Browser } from '../support/browser.js';
import {
  authorizationRequestWithPkce,
  startWithSampleApp,
  stopAndDrop,
  PASSWORD,
  REDIRECT_URI,
  type registerSampleApp,
  signIn,
} from '../support/sample-app.js';

/** RFC 6749 §6 with rotation (RFC 9700 §4.14.2); offline_access needs prompt=consent (OIDC Core §11). */
const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };

async function expectInvalidGrant(promise: Promise<unknown>) {
  await expect(promise).rejects.toMatchObject({ error: 'invalid_grant' });
}

async function expectUserinfoRejected(config: oidc.Configuration, accessToken: string, sub: string) {
  await expect(oidc.fetchUserInfo(config, accessToken, sub)).rejects.toMatchObject({ status: 401 });
}

describe('refresh tokens', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, sample, config } = await startWithSampleApp({
      GATEHOUSE_REFRESH_TOKEN_IDLE_TTL: '2d',
      GATEHOUSE_REFRESH_TOKEN_TTL: '30d',
    }));
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('every refresh returns a new refresh token and a working access token', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.id_token).toEqual(expect.any(String));
    const userinfo = await oidc.fetchUserInfo(config, refreshed.access_token, sample.user.id);
    expect(userinfo.email).toBe('ada@example.test');
    const again = await oidc.refreshTokenGrant(config, refreshed.refresh_token as string);
    expect(again.refresh_token).not.toBe(refreshed.refresh_token);
  });

  it('reuse of a consumed refresh token whose successor was used is invalid_grant and revokes the whole family', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    const latest = await oidc.refreshTokenGrant(config, rotated.refresh_token as string);

    await expectInvalidGrant(oidc.refreshTokenGrant(config, tokens.refresh_token as string));

    await expectInvalidGrant(oidc.refreshTokenGrant(config, latest.refresh_token as string));
    await expectUserinfoRejected(config, latest.access_token, sample.user.id);
    await expectUserinfoRejected(config, tokens.access_token, sample.user.id);
  });

  it('of concurrent refreshes with one token, one rotates and all get its successor (refresh-token-grace.test.ts has more)', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const results = await Promise.all(Array.from({ length: 8 }, () => oidc.refreshTokenGrant(config, tokens.refresh_token as string)));
    expect(new Set(results.map((result) => result.refresh_token)).size).toBe(1);
    const next = await oidc.refreshTokenGrant(config, results[0]?.refresh_token as string);
    expect(next.refresh_token).not.toBe(results[0]?.refresh_token);
  });

  it('a refresh token lives for the idle lifetime', async () => {
    await signIn(config, OFFLINE);
    const rows = await gatehouse.prisma.oidcPayload.findMany({ where: { model: 'RefreshToken' }, orderBy: { expiresAt: 'desc' }, take: 1 });
    const secondsLeft = (Number(rows[0]?.expiresAt?.getTime()) - Date.now()) / 1000;
    expect(secondsLeft).toBeGreaterThan(2 * 86400 - 60);
    expect(secondsLeft).toBeLessThanOrEqual(2 * 86400);
  });

  it('every sign-in renews the grant, so a family started late still gets its full lifetime', async () => {
    const { browser } = await signIn(config, OFFLINE);
    const grantRow = () => gatehouse.prisma.oidcPayload.findFirstOrThrow({ where: { model: 'Grant' }, orderBy: { expiresAt: 'desc' } }); // the newest
    const soon = Math.floor(Date.now() / 1000) + 60;
    const aged = await grantRow();
    await gatehouse.prisma.oidcPayload.update({
      where: { model_id: { model: 'Grant', id: aged.id } },
      data: { expiresAt: new Date(soon * 1000), payload: { ...(aged.payload as object), exp: soon } },
    });
    // Signed in already: no login page, no consent page, the same grant.
    const again = await signIn(config, { ...OFFLINE, prompt: undefined, browser, password: 'not asked' });
    expect(again.tokens.refresh_token).toBeUndefined(); // offline_access needs prompt=consent (OIDC Core §11)
    const renewed = await gatehouse.prisma.oidcPayload.findUniqueOrThrow({ where: { model_id: { model: 'Grant', id: aged.id } } });
    expect(Number(renewed.expiresAt?.getTime())).toBeGreaterThan(Date.now() + 29 * 86400_000);
  });

  it('survives a server restart between issuing and refreshing', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    await gatehouse.stop();
    gatehouse = await startTestGatehouse(databaseUrl, gatehouse.environment);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.access_token).toEqual(expect.any(String));
    await oidc.fetchUserInfo(config, tokens.access_token, sample.user.id);
  });

  it('a restart in the middle of a sign-in loses nothing', async () => {
    const browser = new Browser();
    const { url, codeVerifier } = await authorizationRequestWithPkce(config, { scope: 'openid offline_access', prompt: 'consent' });
    let page = await browser.open(url);
    await gatehouse.stop();
    gatehouse = await startTestGatehouse(databaseUrl, gatehouse.environment);
    page = await browser.submit(page, '/login', { email: 'ada@example.test', password: PASSWORD });
    await gatehouse.stop();
    gatehouse = await startTestGatehouse(databaseUrl, gatehouse.environment);
    page = await browser.submit(page, '/confirm', {}, { stopAt: REDIRECT_URI });
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: codeVerifier });
    expect(tokens.refresh_token).toEqual(expect.any(String));
  });

  it('a disabled user can no longer refresh', async () => {
    const other = await gatehouse.users.createUser({ email: 'grace@example.test', password: 'another long password' });
    const { tokens } = await signIn(config, { ...OFFLINE, email: 'grace@example.test', password: 'another long password' });
    await gatehouse.users.setUserDisabled(other.id, true);
    await expectInvalidGrant(oidc.refreshTokenGrant(config, tokens.refresh_token as string));
  });
});
