import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailFingerprint } from '../../src/audit/events.js';
import { Browser } from '../support/browser.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { authorizationRequestWithPkce, startWithSampleApp, stopAndDrop, type registerSampleApp, signIn } from '../support/sample-app.js';

describe('audit log', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;

  const events = (type: string) => gatehouse.prisma.event.findMany({ where: { type }, orderBy: { id: 'asc' } });

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, sample, config } = await startWithSampleApp());
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('records logins, failed ones by a hash of the email and never the password', async () => {
    const browser = new Browser();
    const { url } = await authorizationRequestWithPkce(config, { redirect_uri: sample.client.redirect_uris[0] as string, scope: 'openid' });
    const page = await browser.open(url);
    await browser.submit(page, '/login', { email: 'Mallory@Example.test', password: 'guessing a password' });
    await signIn(config);

    const [failed] = await events('login.failed');
    expect(failed).toMatchObject({
      actor: 'anonymous',
      subject: null,
      details: { email: emailFingerprint('mallory@example.test'), client_id: sample.client.client_id },
    });
    expect(failed?.requestId).toEqual(expect.any(String));
    expect(failed?.clientIp).toMatch(/127\.0\.0\.1/);
    const [succeeded] = await events('login.succeeded');
    expect(succeeded).toMatchObject({ actor: `user:${sample.user.id}`, subject: sample.user.id });
    const dump = JSON.stringify(await gatehouse.prisma.$queryRawUnsafe('SELECT type, actor, subject, details::text FROM events'));
    expect(dump).not.toMatch(/mallory|guessing a password|correct horse/i);
  });

  it('records refresh-token reuse and the revocation of the grant', async () => {
    const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent' });
    const rotated = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    await oidc.refreshTokenGrant(config, rotated.refresh_token as string); // the successor used: no retry grace left
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token as string)).rejects.toMatchObject({ error: 'invalid_grant' });
    // Written from oidc-provider's grant.error event, alongside the response: wait for it.
    await expect.poll(() => events('refresh_token.reuse_detected'), { timeout: 10_000 }).toHaveLength(1);
    const [reuse] = await events('refresh_token.reuse_detected');
    expect(reuse).toMatchObject({ actor: `client:${sample.client.client_id}`, subject: sample.user.id, details: { grant_revoked: true } });
    // Protocol requests run in one Koa context, so the engine's events see the access log's request id.
    expect(reuse?.requestId).toEqual(expect.any(String));
  });

  it('records key rotations with their actor', async () => {
    await gatehouse.prisma.$executeRawUnsafe("UPDATE signing_keys SET created_at = created_at - interval '2 days' WHERE status = 'next'");
    const result = await gatehouse.keys.rotate({ actor: 'cli' });
    const [rotated] = await events('key.rotated');
    expect(rotated).toMatchObject({
      actor: 'cli',
      subject: result.promoted,
      details: { retired: result.retired, next: result.created, on_request: true },
    });
  });
});
