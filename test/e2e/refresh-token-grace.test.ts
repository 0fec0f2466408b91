import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageId } from '../../src/oidc/prisma-adapter.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { startWithSampleApp, stopAndDrop, type registerSampleApp, signIn } from '../support/sample-app.js';

/** RFC 6749 §6 with rotation (RFC 9700 §4.14.2); offline_access needs prompt=consent (OIDC Core §11). */
const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The grant a refresh token belongs to, read from its row. */
async function grantOf(gatehouse: TestGatehouse, refreshToken: string): Promise<string> {
  const row = await gatehouse.prisma.oidcPayload.findUniqueOrThrow({
    where: { model_id: { model: 'RefreshToken', id: storageId(refreshToken) } },
  });
  return row.grantId as string;
}

/** Refresh tokens of a grant that can still be used. */
async function liveRefreshTokens(gatehouse: TestGatehouse, grantId: string): Promise<number> {
  return gatehouse.prisma.oidcPayload.count({ where: { model: 'RefreshToken', grantId, consumedAt: null } });
}

/** A refresh whose response the client never read (a timeout, a dropped connection). */
async function refreshAndLoseTheResponse(config: oidc.Configuration, refreshToken: string): Promise<void> {
  await oidc.refreshTokenGrant(config, refreshToken);
}

describe('refresh token retries within the reuse grace window (default 30 s)', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, sample, config } = await startWithSampleApp());
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('20 concurrent refreshes of one token all succeed with one identical successor, and the family has one live refresh token', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const grantId = await grantOf(gatehouse, tokens.refresh_token as string);
    const results = await Promise.all(Array.from({ length: 20 }, () => oidc.refreshTokenGrant(config, tokens.refresh_token as string)));

    const successors = new Set(results.map((result) => result.refresh_token));
    expect(successors.size).toBe(1);
    const successor = [...successors][0] as string;
    expect(successor).not.toBe(tokens.refresh_token);
    expect(await liveRefreshTokens(gatehouse, grantId)).toBe(1);
    // Every access token handed out is for the same, still valid grant.
    for (const result of results.slice(0, 3)) {
      expect((await oidc.fetchUserInfo(config, result.access_token, sample.user.id)).email).toBe('ada@example.test');
    }
    const next = await oidc.refreshTokenGrant(config, successor);
    expect(next.refresh_token).not.toBe(successor);
  });

  it('a retry one second after a lost response gets the same successor, which then works', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const original = tokens.refresh_token as string;
    await refreshAndLoseTheResponse(config, original);
    await sleep(1000);
    const retried = await oidc.refreshTokenGrant(config, original);
    const again = await oidc.refreshTokenGrant(config, original);
    expect(again.refresh_token).toBe(retried.refresh_token);
    expect(retried.id_token).toEqual(expect.any(String));
    expect(await liveRefreshTokens(gatehouse, await grantOf(gatehouse, original))).toBe(1);

    const next = await oidc.refreshTokenGrant(config, retried.refresh_token as string);
    expect((await oidc.fetchUserInfo(config, next.access_token, sample.user.id)).sub).toBe(sample.user.id);
  });

  it('once the successor has been used, presenting its predecessor again revokes the whole family and is audited', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    const second = await oidc.refreshTokenGrant(config, first.refresh_token as string);

    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, second.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.fetchUserInfo(config, second.access_token, sample.user.id)).rejects.toMatchObject({ status: 401 });
    // Written from oidc-provider's grant.error event, alongside the response: wait for it.
    const reuses = () => gatehouse.prisma.event.count({ where: { type: 'refresh_token.reuse_detected', subject: sample.user.id } });
    for (let tries = 0; tries < 200 && (await reuses()) === 0; tries++) await sleep(50);
    expect(await reuses()).toBeGreaterThan(0);
  });

  it('the stored successor is sealed, not the token in the clear, and is gone once the successor is used', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    const row = await gatehouse.prisma.refreshTokenSuccessor.findUniqueOrThrow({
      where: { model_id: { model: 'RefreshToken', id: storageId(tokens.refresh_token as string) } },
    });
    expect(row.successorId).toBe(storageId(first.refresh_token as string));
    expect(row.sealedSuccessor).not.toContain(first.refresh_token as string);
    expect(row.sealedSuccessor).toMatch(/^v1\./);

    await oidc.refreshTokenGrant(config, first.refresh_token as string);
    expect(await gatehouse.prisma.refreshTokenSuccessor.count({ where: { id: storageId(tokens.refresh_token as string) } })).toBe(0);
  });

  it('another client presenting the token gets invalid_grant and the family stays usable', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    const other = await gatehouse.clients.registerClient({
      client_name: 'Other',
      redirect_uris: ['http://127.0.0.1:8765/other'],
      grant_types: ['authorization_code', 'refresh_token'],
    });
    const otherConfig = new oidc.Configuration(
      config.serverMetadata(),
      other.client_id,
      {},
      oidc.ClientSecretBasic(other.client_secret as string),
    );
    oidc.allowInsecureRequests(otherConfig);
    await expect(oidc.refreshTokenGrant(otherConfig, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    const next = await oidc.refreshTokenGrant(config, first.refresh_token as string);
    expect(next.access_token).toEqual(expect.any(String));
  });
});

describe('refresh token retries after a tiny reuse grace window', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let config: oidc.Configuration;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, config } = await startWithSampleApp({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '1s' }));
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('a retry after the window has passed revokes the whole family', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const first = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    await sleep(1500);
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(oidc.refreshTokenGrant(config, first.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('refresh token reuse with the grace window disabled (0)', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let config: oidc.Configuration;

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, config } = await startWithSampleApp({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '0' }));
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('of concurrent refreshes one wins and the reuse revokes the family, as RFC 9700 §4.14.2 describes', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => oidc.refreshTokenGrant(config, tokens.refresh_token as string)),
    );
    const winners = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    expect(winners).toHaveLength(1);
    await expect(oidc.refreshTokenGrant(config, winners[0]?.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await gatehouse.prisma.refreshTokenSuccessor.count()).toBe(0);
  });
});
