import { createSecretKey, randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cacheLookups } from '../../src/clients/cached-lookups.js';
import { recordSessionUse } from '../../src/account/session-activity.js';
import { createClientService } from '../../src/clients/clients.js';
import { createResourceService } from '../../src/clients/resources.js';
import type { PrismaClient } from '../../src/db/prisma.js';
import { runInRequestContext } from '../../src/log.js';
import { createAdapterFactory, revokeByAccount, revokeByClient, storageId, storageIdOf } from '../../src/oidc/prisma-adapter.js';
import { engineContextStore } from '../../src/oidc/provider-internals.js';
import { createRefreshTokenSuccessors } from '../../src/oidc/refresh-token-successors.js';
import { createMigratedDatabase } from '../support/services.js';
import { dataStatements, statementsSentBy } from '../support/statements-sent.js';

const key = createSecretKey(randomBytes(32));
const id = () => randomBytes(32).toString('base64url');

describe('Prisma adapter for oidc-provider', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let prisma: PrismaClient;
  let adapterFor: ReturnType<typeof createAdapterFactory>;

  beforeAll(async () => {
    database = await createMigratedDatabase();
    prisma = database.prisma;
    adapterFor = createAdapterFactory(prisma, createClientService(prisma, key), key);
  });
  afterAll(() => database?.drop());

  it('stores a token under the hash of its value, never the value itself', async () => {
    const token = id();
    await adapterFor('RefreshToken').upsert(token, { jti: token, grantId: 'g1', accountId: 'a' }, 60);
    const raw = JSON.stringify(await prisma.$queryRawUnsafe('SELECT * FROM oidc_payloads'));
    expect(raw).not.toContain(token);
    expect(raw).toContain(storageId(token));
    expect(await adapterFor('RefreshToken').find(token)).toMatchObject({ jti: token, grantId: 'g1', accountId: 'a' });
  });

  it('records a client assertion jti once: a second record, even a concurrent one, is invalid_client', async () => {
    const jti = id();
    const results = await Promise.allSettled([1, 2, 3].map(() => adapterFor('ReplayDetection').upsert(jti, { jti, iss: 'svc' }, 60)));
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results.filter((outcome) => outcome.status === 'rejected')) {
      expect((result as PromiseRejectedResult).reason).toMatchObject({ error: 'invalid_client' });
    }
    expect(await adapterFor('ReplayDetection').find(jti)).toMatchObject({ iss: 'svc' });
    const row = await prisma.oidcPayload.findUnique({ where: { model_id: { model: 'ReplayDetection', id: storageId(jti) } } });
    expect((row?.expiresAt?.getTime() ?? 0) - Date.now()).toBeGreaterThan(30_000);
  });

  it('finds a session by uid and gives back its id, sealed at rest', async () => {
    const sessionId = id();
    await adapterFor('Session').upsert(sessionId, { jti: sessionId, uid: 'uid-1', accountId: 'a' }, 60);
    expect(await adapterFor('Session').findByUid('uid-1')).toMatchObject({ jti: sessionId, accountId: 'a' });
    const raw = JSON.stringify(await prisma.oidcPayload.findMany({ where: { model: 'Session' } }));
    expect(raw).not.toContain(sessionId);
  });

  it("records a signed-in session's use in the statement that saves it, within a request only", async () => {
    const recording = createAdapterFactory(prisma, createClientService(prisma, key), key, undefined, recordSessionUse);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    // What the engine's routes enter its store with: the request's Koa context (its IP and headers).
    const inRequest = (run: () => Promise<void>) =>
      engineContextStore().run({ ip: '203.0.113.9', get: (header: string) => (header === 'user-agent' ? 'Firefox' : '') }, run);
    const activity = (uid: string) => prisma.sessionActivity.findUnique({ where: { sessionUid: uid } });

    const sent = await statementsSentBy(() =>
      inRequest(() => recording('Session').upsert(id(), { jti: 's', uid: 'used-1', accountId: 'acc-1', exp }, 3600)),
    );
    expect(dataStatements(sent).map((statement) => statement.text)).toEqual([
      expect.stringMatching(/session_activity[\s\S]*INSERT INTO oidc_payloads/),
    ]);
    expect(await activity('used-1')).toMatchObject({
      accountId: 'acc-1',
      ip: '203.0.113.9',
      userAgent: 'Firefox',
      expiresAt: new Date(exp * 1000),
    });
    expect(await prisma.oidcPayload.count({ where: { model: 'Session', uid: 'used-1' } })).toBe(1);

    // Not signed in yet, or saved outside any request: the session alone.
    await inRequest(() => recording('Session').upsert(id(), { jti: 's', uid: 'used-2', exp }, 3600));
    await recording('Session').upsert(id(), { jti: 's', uid: 'used-3', accountId: 'acc-1', exp }, 3600);
    expect(await activity('used-2')).toBeNull();
    expect(await activity('used-3')).toBeNull();
    expect(await prisma.oidcPayload.count({ where: { model: 'Session', uid: { in: ['used-2', 'used-3'] } } })).toBe(2);
  });

  it('seals the session cookie an interaction refers to, and gives it back', async () => {
    const cookie = id();
    await adapterFor('Interaction').upsert('i1', { jti: 'i1', session: { accountId: 'a', cookie, uid: 'u' } } as never, 60);
    expect(await adapterFor('Interaction').find('i1')).toMatchObject({ session: { accountId: 'a', cookie, uid: 'u' } });
    expect(JSON.stringify(await prisma.$queryRawUnsafe("SELECT * FROM oidc_payloads WHERE model = 'Interaction'"))).not.toContain(cookie);
  });

  it('finds a device code by user code', async () => {
    const deviceCode = id();
    await adapterFor('DeviceCode').upsert(deviceCode, { jti: deviceCode, userCode: 'WDJBMJHT' }, 60);
    expect(await adapterFor('DeviceCode').findByUserCode('WDJBMJHT')).toMatchObject({ jti: deviceCode });
    expect(await adapterFor('DeviceCode').findByUserCode('BCDFGHJK')).toBeUndefined();
  });

  it('finds the newest device code when an expired one had the same user code', async () => {
    const [old, fresh] = [id(), id()];
    await adapterFor('DeviceCode').upsert(old, { jti: old, userCode: 'ZZZZXXXX' }, 1);
    await prisma.oidcPayload.updateMany({ where: { id: storageId(old) }, data: { expiresAt: new Date(Date.now() - 60_000) } });
    await adapterFor('DeviceCode').upsert(fresh, { jti: fresh, userCode: 'ZZZZXXXX' }, 600);
    expect(await adapterFor('DeviceCode').findByUserCode('ZZZZXXXX')).toMatchObject({ jti: fresh });
  });

  it('still returns an expired row, so oidc-provider can say "expired"', async () => {
    const code = id();
    await adapterFor('AuthorizationCode').upsert(code, { jti: code, exp: 1 }, 1);
    await prisma.oidcPayload.updateMany({ where: { id: storageId(code) }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await adapterFor('AuthorizationCode').find(code)).toMatchObject({ jti: code });
  });

  it('lets only one of two concurrent consumes win; the loser revokes the grant', async () => {
    const token = id();
    const sibling = id();
    await adapterFor('Grant').upsert('race', { jti: 'race', accountId: 'a' }, 60);
    await adapterFor('RefreshToken').upsert(token, { jti: token, grantId: 'race' }, 60);
    await adapterFor('AccessToken').upsert(sibling, { jti: sibling, grantId: 'race' }, 60);
    const results = await Promise.allSettled([adapterFor('RefreshToken').consume(token), adapterFor('RefreshToken').consume(token)]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failure = results.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    expect(failure.reason).toMatchObject({ error: 'invalid_grant' });
    expect(await prisma.oidcPayload.count({ where: { grantId: 'race' } })).toBe(0);
    expect(await adapterFor('Grant').find('race')).toBeUndefined();
  });

  it('marks a consumed row with the time of consumption, in one statement sent straight through pg', async () => {
    const code = id();
    await adapterFor('AuthorizationCode').upsert(code, { jti: code }, 60);
    const sent = await statementsSentBy(() => adapterFor('AuthorizationCode').consume(code));
    // Every code exchange sends it: one statement (a new connection's own set-up aside), not through
    // Prisma's query engine, whose pg adapter asks for rows as arrays.
    const statements = dataStatements(sent);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ text: expect.stringMatching(/^UPDATE oidc_payloads/) });
    expect(statements[0]?.rowMode).toBeUndefined();
    expect((await adapterFor('AuthorizationCode').find(code))?.consumed).toEqual(expect.any(Number));
  });

  it('marks a consumption after 2038 too (the epoch seconds outgrow a 32-bit integer), a rotated refresh token as well', async () => {
    const [code, token, successor] = [id(), id(), id()];
    const successors = createRefreshTokenSuccessors(prisma, key, 60);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(new Date('2040-01-01T00:00:00Z'));
      const consumedAt = Date.UTC(2040, 0, 1) / 1000;
      await adapterFor('AuthorizationCode').upsert(code, { jti: code }, 60);
      await adapterFor('AuthorizationCode').consume(code);
      expect((await adapterFor('AuthorizationCode').find(code))?.consumed).toBe(consumedAt);
      await adapterFor('RefreshToken').upsert(token, { jti: token, grantId: 'g-2040' }, 60);
      const row = {
        payload: { grantId: 'g-2040' },
        grantId: 'g-2040',
        userCode: null,
        uid: null,
        expiresAt: new Date(Date.now() + 60_000),
      };
      expect(await successors.rotate({ consumedId: storageId(token), successorId: storageId(successor), successor, row })).toBe('rotated');
      expect((await adapterFor('RefreshToken').find(token))?.consumed).toBe(consumedAt);
    } finally {
      vi.useRealTimers();
    }
  });

  it("reads a refresh token's grant with the token: within a request the grant's find sends nothing, and a deleted grant reads as gone", async () => {
    const [grantId, token, orphan] = [id(), id(), id()];
    const grant = { jti: grantId, accountId: 'acc-9', clientId: 'app-9', openid: { scope: 'openid' } };
    await adapterFor('Grant').upsert(grantId, grant, 60);
    await adapterFor('RefreshToken').upsert(token, { jti: token, grantId }, 60);
    await adapterFor('RefreshToken').upsert(orphan, { jti: orphan, grantId: id() }, 60);

    const sent = vi.spyOn(pg.Client.prototype, 'query');
    try {
      await runInRequestContext({ state: { requestContext: { requestId: 'refresh-1' } } }, async () => {
        expect((await adapterFor('RefreshToken').find(token))?.grantId).toBe(grantId);
        expect(await adapterFor('Grant').find(grantId)).toEqual(grant);
      });
      expect(sent).toHaveBeenCalledTimes(1);
      await runInRequestContext({ state: { requestContext: { requestId: 'refresh-2' } } }, async () => {
        const found = await adapterFor('RefreshToken').find(orphan);
        expect(await adapterFor('Grant').find(found?.grantId as string)).toBeUndefined();
      });
      expect(sent).toHaveBeenCalledTimes(2);
    } finally {
      sent.mockRestore();
    }
    // Outside a request nothing is remembered: each find reads the database.
    await adapterFor('Grant').destroy(grantId);
    await adapterFor('RefreshToken').find(token);
    expect(await adapterFor('Grant').find(grantId)).toBeUndefined();
  });

  it('computes the storage id in SQL exactly as storageId does, for every kind of id', async () => {
    const ids = [...Array.from({ length: 200 }, () => id()), 'g', 'grant with spaces', 'ünïcode-grant-✓'];
    const rows = await prisma.$queryRawUnsafe<{ id: string; stored: string }[]>(
      `SELECT id, ${storageIdOf('id')} AS stored FROM unnest($1::text[]) AS id`,
      ids,
    );
    expect(rows.map((row) => row.stored)).toEqual(ids.map(storageId));
  });

  it('revokes by grant id and destroys by id', async () => {
    const [a, b] = [id(), id()];
    await adapterFor('AccessToken').upsert(a, { jti: a, grantId: 'g2' }, 60);
    await adapterFor('AccessToken').upsert(b, { jti: b, grantId: 'g3' }, 60);
    await adapterFor('AccessToken').revokeByGrantId('g2');
    await adapterFor('AccessToken').destroy(b);
    expect(await adapterFor('AccessToken').find(a)).toBeUndefined();
    expect(await adapterFor('AccessToken').find(b)).toBeUndefined();
  });

  it("revokes an account's sessions, grants and tokens, and nobody else's", async () => {
    const [session, token, other] = [id(), id(), id()];
    await adapterFor('Session').upsert(session, { jti: session, accountId: 'leaving' }, 60);
    await adapterFor('RefreshToken').upsert(token, { jti: token, accountId: 'leaving', grantId: 'g4' }, 60);
    await adapterFor('RefreshToken').upsert(other, { jti: other, accountId: 'staying', grantId: 'g5' }, 60);
    expect(await revokeByAccount(prisma, 'leaving')).toBe(2);
    expect(await adapterFor('Session').find(session)).toBeUndefined();
    expect(await adapterFor('RefreshToken').find(token)).toBeUndefined();
    expect(await adapterFor('RefreshToken').find(other)).toMatchObject({ accountId: 'staying' });
  });

  it("revokes a client's grants and tokens but keeps the record of its revoked JWTs", async () => {
    const [token, revokedJwt, other] = [id(), id(), id()];
    await adapterFor('AccessToken').upsert(token, { jti: token, clientId: 'gone' }, 60);
    await adapterFor('RevokedAccessToken').upsert(revokedJwt, { clientId: 'gone' }, 60);
    await adapterFor('AccessToken').upsert(other, { jti: other, clientId: 'kept' }, 60);
    expect(await revokeByClient(prisma, 'gone')).toBe(1);
    expect(await adapterFor('AccessToken').find(token)).toBeUndefined();
    expect(await adapterFor('RevokedAccessToken').find(revokedJwt)).toMatchObject({ clientId: 'gone' });
    expect(await adapterFor('AccessToken').find(other)).toMatchObject({ clientId: 'kept' });
  });

  it('reads clients from the clients table with the secret as its hash only', async () => {
    const registered = await createClientService(prisma, key).registerClient({ redirect_uris: ['https://app.example.test/cb'] });
    const loaded = await adapterFor('Client').find(registered.client_id);
    expect(loaded).toMatchObject({ client_id: registered.client_id, redirect_uris: ['https://app.example.test/cb'] });
    expect(loaded?.client_secret).toMatch(/^hmac-sha256\$/);
    expect(loaded?.client_secret).not.toContain(registered.client_secret);
    expect(await adapterFor('Client').find('unknown')).toBeUndefined();
  });

  it("hands out the same client payload object while the lookup cache holds the client, and a new one once a change empties it (the engine's Client is kept per payload: reuseClientPerPayload)", async () => {
    const clients = createClientService(prisma, key);
    const cached = cacheLookups(clients, createResourceService(prisma), 60);
    const clientAdapter = createAdapterFactory(prisma, cached.clients, key)('Client');
    const registered = await clients.registerClient({ redirect_uris: ['https://app.example.test/cb'] });
    const first = await clientAdapter.find(registered.client_id);
    expect(first).toMatchObject({ client_id: registered.client_id });
    expect(await clientAdapter.find(registered.client_id)).toBe(first);

    const rotated = await clients.rotateClientSecret(registered.client_id);
    cached.onChange('clients');
    const afterRotation = await clientAdapter.find(registered.client_id);
    expect(afterRotation).not.toBe(first);
    expect(afterRotation?.client_secret).not.toBe(first?.client_secret);
    expect(rotated.client_secret).not.toBe(registered.client_secret);

    await clients.deleteClient(registered.client_id);
    cached.onChange('clients');
    expect(await clientAdapter.find(registered.client_id)).toBeUndefined();
  });
});
