import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import type * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, adminTokenForClient } from '../support/admin.js';
import { runCliInProcess } from '../support/cli.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, TEST_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import { API, discover, registerSampleApp, signIn } from '../support/sample-app.js';
import { postForm } from '../support/service-client.js';

// The check interval is long, so only the NOTIFY path can explain a prompt
// pick-up at the other instance; the publish lead is long, so only a
// revocation (never a rotation) can promote the young next key.
const ADMIN = { GATEHOUSE_ADMIN_CLIENT_ID: 'keys-robot', GATEHOUSE_ADMIN_CLIENT_SECRET: 'keys-robot-secret-0123456789-abcdefghij' };
const SETTINGS = { ...ADMIN, GATEHOUSE_KEY_PUBLISH_LEAD: '2h', GATEHOUSE_JWKS_MAX_AGE: '1s', GATEHOUSE_KEY_CHECK_INTERVAL: '1h' };

describe('emergency signing key revocation across instances', () => {
  let databaseUrl: string;
  let a: TestGatehouse;
  let b: TestGatehouse;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;
  let config: oidc.Configuration;

  const jwksOf = async (instance: TestGatehouse) => (await (await fetch(`${instance.url}/jwks`)).json()) as JSONWebKeySet;
  const kidsOf = async (instance: TestGatehouse) => (await jwksOf(instance)).keys.map((key) => key.kid);
  const published = async () => {
    const listed = await a.keys.list();
    return [...listed.filter((key) => key.status === 'current'), ...listed.filter((key) => key.status === 'next')].map((key) => key.kid);
  };
  /** Both instances publish exactly these kids (they learn of a change by NOTIFY). */
  const bothPublish = async (kids: string[]) => {
    for (const instance of [a, b]) {
      await expect.poll(() => kidsOf(instance), { timeout: 15_000, interval: 50, message: `JWKS of ${instance.url}` }).toEqual(kids);
    }
  };
  const introspectAt = async (instance: TestGatehouse, token: string) => {
    const response = await postForm(`${instance.url}/token/introspection`, { token }, [
      sample.client.client_id,
      sample.client.client_secret as string,
    ]);
    expect(response.status).toBe(200);
    return (await response.json()) as { active: boolean; [claim: string]: unknown };
  };
  const refreshAt = async (instance: TestGatehouse, refreshToken: string) => {
    const response = await postForm(`${instance.url}/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, [
      sample.client.client_id,
      sample.client.client_secret as string,
    ]);
    expect(response.status).toBe(200);
    return (await response.json()) as { id_token: string; refresh_token: string; access_token: string };
  };
  const admin = async (instance: TestGatehouse = a) =>
    adminClient(instance, await adminTokenForClient(instance, ADMIN.GATEHOUSE_ADMIN_CLIENT_ID, ADMIN.GATEHOUSE_ADMIN_CLIENT_SECRET));

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    a = await startTestGatehouse(databaseUrl, SETTINGS);
    // Both instances serve one issuer, as behind a load balancer.
    b = await startTestGatehouse(databaseUrl, { ...SETTINGS, ISSUER: a.issuer });
    sample = await registerSampleApp(a);
    config = await discover(a, sample.client);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('revoking the current key at A: it leaves both JWKS at once, its tokens stop introspecting, a refresh at B re-issues from the promoted key', async () => {
    const [current, next] = await published();
    const { tokens } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent', resource: API });
    expect(decodeProtectedHeader(tokens.access_token).kid).toBe(current);
    expect((await introspectAt(a, tokens.access_token)).active).toBe(true);
    expect((await introspectAt(b, tokens.access_token)).active).toBe(true);
    const api = await admin();

    const answer = await api('POST', `/keys/${current}/revoke`);
    expect(answer).toMatchObject({
      status: 200,
      body: { revoked: current, previous_status: 'current', current: next, next: expect.any(String), created: [answer.body?.next] },
    });
    const fresh = String(answer.body?.next);
    // The instance that answered has already stopped publishing it; the other follows on NOTIFY.
    expect(await kidsOf(a)).toEqual([next, fresh]);
    expect(await introspectAt(a, tokens.access_token)).toEqual({ active: false });
    await bothPublish([next as string, fresh]);

    // Introspection (the tokens' own rule, on both instances) no longer accepts the revoked key's token.
    expect(await introspectAt(a, tokens.access_token)).toEqual({ active: false });
    expect(await introspectAt(b, tokens.access_token)).toEqual({ active: false });
    // Nor does a resource server with the fresh JWKS.
    const jwksAtB = createLocalJWKSet(await jwksOf(b));
    await expect(jwtVerify(tokens.access_token, jwksAtB, { issuer: a.issuer, audience: API })).rejects.toThrow();

    // The refresh token is opaque: a refresh at B re-issues from the promoted key, and that token introspects at A.
    const refreshed = await refreshAt(b, tokens.refresh_token as string);
    expect(decodeProtectedHeader(refreshed.access_token).kid).toBe(next);
    expect(decodeProtectedHeader(refreshed.id_token).kid).toBe(next);
    await jwtVerify(refreshed.access_token, jwksAtB, { issuer: a.issuer, audience: API });
    expect(await introspectAt(a, refreshed.access_token)).toMatchObject({ active: true, aud: API });

    // The admin token itself was signed by the revoked key: refused; a new one reads the audit log.
    expect((await api('GET', '/keys')).status).toBe(401);
    const events = (await (await admin())('GET', '/events?type=key.revoked')).body as { data: Record<string, unknown>[] };
    expect(events.data).toMatchObject([
      {
        actor: `client:${ADMIN.GATEHOUSE_ADMIN_CLIENT_ID}`,
        subject: current,
        details: { previous_status: 'current', current: next, next: fresh, created: [fresh] },
      },
    ]);
    // The list shows it revoked, with when.
    const keys = ((await (await admin())('GET', '/keys')).body as { data: Record<string, unknown>[] }).data;
    expect(keys.find((key) => key.kid === current)).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) });
  });

  it('answers bad requests clearly: unknown kid 404, already revoked 409, a kid no key can have 404, read-only token 403', async () => {
    const api = await admin();
    const revoked = (await a.keys.list()).find((key) => key.status === 'revoked')?.kid;
    expect(await api('POST', '/keys/00000000-0000-4000-8000-000000000000/revoke')).toMatchObject({
      status: 404,
      body: { error: 'not_found', error_description: 'no signing key 00000000-0000-4000-8000-000000000000' },
    });
    expect(await api('POST', `/keys/${revoked}/revoke`)).toMatchObject({
      status: 409,
      body: { error: 'key_revoked', error_description: expect.stringContaining('already revoked') },
    });
    expect(await api('POST', '/keys/a%00b/revoke')).toMatchObject({ status: 404, body: { error: 'not_found' } });
    expect(await api('POST', '/keys/%ED%A0%80/revoke')).toMatchObject({ status: 404 });
    expect((await api('GET', `/keys/${revoked}/revoke`)).status).toBe(405);
    const reader = await a.clients.registerClient({
      grant_types: ['client_credentials'],
      api_access: [{ resource: `${a.issuer}/admin`, scopes: ['admin:keys:read'] }],
      default_resource: `${a.issuer}/admin`,
    });
    const readOnly = adminClient(a, await adminTokenForClient(a, reader.client_id, reader.client_secret as string));
    const [current] = await published();
    expect(await readOnly('POST', `/keys/${current}/revoke`)).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    expect(await adminClient(a, undefined)('POST', `/keys/${current}/revoke`)).toMatchObject({ status: 401 });
    expect((await published())[0]).toBe(current);
  });

  it('a database connection lost mid-revocation answers with an error, and nothing is half-applied on either instance', async () => {
    const before = await published();
    const rows = await a.prisma.signingKey.findMany({ orderBy: { kid: 'asc' } });
    const api = await admin();
    // A real fault: the database ends the revoking session as the audit row,
    // written after every key change in the transaction, is inserted.
    await a.prisma.$executeRawUnsafe(`
      CREATE FUNCTION drop_connection_on_revoke() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.type = 'key.revoked' THEN PERFORM pg_terminate_backend(pg_backend_pid()); END IF;
        RETURN NEW;
      END $$`);
    await a.prisma.$executeRawUnsafe(
      'CREATE TRIGGER drop_connection_on_revoke BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION drop_connection_on_revoke()',
    );
    let failed: Awaited<ReturnType<typeof api>>;
    try {
      failed = await api('POST', `/keys/${before[0]}/revoke`);
    } finally {
      await a.prisma.$executeRawUnsafe('DROP TRIGGER drop_connection_on_revoke ON events');
      await a.prisma.$executeRawUnsafe('DROP FUNCTION drop_connection_on_revoke()');
    }
    expect(failed.status).toBe(503);
    expect(failed.body).toMatchObject({ error: expect.any(String), error_description: expect.any(String) });
    expect(await a.prisma.signingKey.findMany({ orderBy: { kid: 'asc' } })).toEqual(rows);
    expect(await a.prisma.event.count({ where: { type: 'key.revoked', subject: before[0] } })).toBe(0);
    expect(await kidsOf(a)).toEqual(expect.arrayContaining(before));
    expect(await kidsOf(b)).toEqual(expect.arrayContaining(before));

    // The same request again goes through (the token was signed by the key it revokes, so it is the last use of it).
    expect(await api('POST', `/keys/${before[0]}/revoke`)).toMatchObject({ status: 200, body: { revoked: before[0], current: before[1] } });
    await bothPublish(await published());
  });

  it('gatehouse keys revoke KID, run against the database, reaches both running instances', async () => {
    const [current, next] = await published();
    const environment = { DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET };
    const result = await runCliInProcess(['keys', 'revoke', current as string, '--json'], environment);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout) as { revoked: string; current: string; next: string };
    expect(printed).toMatchObject({ revoked: current, previous_status: 'current', current: next });
    await bothPublish([next as string, printed.next]);
    const { tokens } = await signIn(config, { scope: 'openid', resource: API });
    expect(decodeProtectedHeader(tokens.access_token).kid).toBe(next);
    expect(await a.prisma.event.count({ where: { type: 'key.revoked', subject: current, actor: 'cli' } })).toBe(1);

    const again = await runCliInProcess(['keys', 'revoke', current as string], environment);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('already revoked');
    const missing = await runCliInProcess(['keys', 'revoke'], environment);
    expect(missing.code).toBe(2);
    const table = await runCliInProcess(['keys', 'revoke', next as string], environment);
    expect(table.code).toBe(0);
    expect(table.stderr).toContain('fetch it again');
  });
});
