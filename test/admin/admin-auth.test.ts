import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { adminClient, adminTokenForUser, forgeWithServerKey } from '../support/admin.js';
import { API, discover, registerSampleApp, signIn } from '../support/sample-app.js';

describe('admin API authentication', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let adminToken: string;
  let adminId: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl, {
      GATEHOUSE_ADMIN_EMAIL: 'root@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'root password 1234',
    });
    adminToken = await adminTokenForUser(gatehouse, 'root@example.test', 'root password 1234');
    adminId = (await gatehouse.users.listUsers({ email: 'root@example.test', limit: 1 })).users[0]?.id as string;
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  const expectInvalidToken = (response: Awaited<ReturnType<ReturnType<typeof adminClient>>>, description: RegExp) => {
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ error: 'invalid_token', error_description: expect.stringMatching(description) });
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="gatehouse-admin", error="invalid_token"/);
  };

  it('lets an admin user in with a token from the code flow', async () => {
    const response = await adminClient(gatehouse, adminToken)('GET', '/users');
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
  });

  it('answers a request without a token with 401 and a bare Bearer challenge (RFC 6750 §3.1)', async () => {
    const response = await adminClient(gatehouse, undefined)('GET', '/users');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse-admin"');
    expect(response.body).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a malformed Authorization header', async () => {
    expectInvalidToken(
      await adminClient(gatehouse, undefined)('GET', '/users', undefined, { authorization: 'Bearer not a token!' }),
      /malformed/,
    );
    expectInvalidToken(await adminClient(gatehouse, 'not-a-jwt')('GET', '/users'), /not a valid access token/);
  });

  it('refuses an unsigned (alg: none) token', async () => {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const token = `${part({ alg: 'none', typ: 'at+jwt' })}.${part({ iss: gatehouse.issuer, aud: `${gatehouse.issuer}/admin`, sub: adminId, client_id: 'x', scope: 'admin', exp: now + 600 })}.`;
    expectInvalidToken(await adminClient(gatehouse, token)('GET', '/users'), /not signed with RS256/);
  });

  it('refuses a token signed by another key, even one claiming our kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const { keys } = await gatehouse.keys.load();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({
      iss: gatehouse.issuer,
      aud: `${gatehouse.issuer}/admin`,
      sub: adminId,
      client_id: 'x',
      scope: 'admin',
      exp: now + 600,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: keys[0]?.kid })
      .sign(privateKey);
    expectInvalidToken(await adminClient(gatehouse, token)('GET', '/users'), /signature/);
  });

  it('refuses an expired token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await forgeWithServerKey(gatehouse, { sub: adminId, client_id: 'x', scope: 'admin', iat: now - 1200, exp: now - 600 });
    expectInvalidToken(await adminClient(gatehouse, token)('GET', '/users'), /expired/);
  });

  it('refuses a token for another audience, such as a registered API', async () => {
    const sample = await registerSampleApp(gatehouse);
    const { tokens } = await signIn(await discover(gatehouse, sample.client), { scope: 'openid items:read', resource: API });
    expectInvalidToken(await adminClient(gatehouse, tokens.access_token)('GET', '/users'), /aud/);
    expectInvalidToken(await adminClient(gatehouse, tokens.id_token as string)('GET', '/users'), /typ|not a valid/);
  });

  it('answers 403 insufficient_scope for a token without the scope, and grants read with a write scope', async () => {
    // Signed with the server's key for the admin user through an existing client (the bootstrap one).
    const readOnly = await forgeWithServerKey(gatehouse, { sub: adminId, client_id: 'gatehouse-admin', scope: 'admin:users:read' });
    const api = adminClient(gatehouse, readOnly);
    expect((await api('GET', '/users')).status).toBe(200);
    const denied = await api('POST', '/users', { email: 'new@example.test', password: 'long enough password' });
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: 'insufficient_scope' });
    expect(denied.headers.get('www-authenticate')).toBe(
      'Bearer realm="gatehouse-admin", error="insufficient_scope", scope="admin:users:write"',
    );
    const writer = await forgeWithServerKey(gatehouse, { sub: adminId, client_id: 'gatehouse-admin', scope: 'admin:users:write' });
    expect((await adminClient(gatehouse, writer)('GET', '/users')).status).toBe(200);
  });

  it('does not give admin scopes to a user without the admin role', async () => {
    await gatehouse.users.createUser({ email: 'plain@example.test', password: 'plain password 123' });
    const token = await adminTokenForUser(gatehouse, 'plain@example.test', 'plain password 123');
    expect(String(decodeJwt(token).scope ?? '')).not.toContain('admin');
    expectInvalidToken(await adminClient(gatehouse, token)('GET', '/users'), /no longer an active admin/);
  });

  it('gives no admin token to a client not granted the admin API, even when an admin signs in (invalid_target)', async () => {
    const sample = await registerSampleApp(gatehouse, 'sample-user@example.test');
    const signingIn = signIn(await discover(gatehouse, sample.client), {
      scope: 'openid admin',
      resource: `${gatehouse.issuer}/admin`,
      prompt: 'consent',
      email: 'root@example.test',
      password: 'root password 1234',
    });
    await expect(signingIn).rejects.toMatchObject({ error: 'invalid_target' });
  });

  it('stops a token working once its user loses the admin role', async () => {
    const other = await gatehouse.users.createUser({ email: 'temp-admin@example.test', password: 'temp admin password', roles: ['admin'] });
    const token = await adminTokenForUser(gatehouse, 'temp-admin@example.test', 'temp admin password');
    expect((await adminClient(gatehouse, token)('GET', '/users')).status).toBe(200);
    await gatehouse.users.updateUser(other.id, { roles: [] });
    expectInvalidToken(await adminClient(gatehouse, token)('GET', '/users'), /no longer an active admin/);
  });

  it('records failed admin authentications in the audit log', async () => {
    const events = await adminClient(gatehouse, adminToken)('GET', '/events?type=admin.authentication_failed');
    expect(events.status).toBe(200);
    const data = (events.body as { data: { type: string; details: { reason: string; count: number }; request_id: string }[] }).data;
    // One event per client IP a minute, counting its failures (the first one's reason kept).
    const failures = data.reduce((total, event) => total + event.details.count, 0);
    expect(failures).toBeGreaterThan(3);
    expect(data.length).toBeLessThan(failures);
    expect(data[0]?.details.reason).toEqual(expect.any(String));
    expect(data[0]?.request_id).toEqual(expect.any(String));
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const response = await fetch(`${gatehouse.url}/admin/openapi.json`);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: { properties: object; additionalProperties: boolean } }> } }>
      >;
    };
    expect(document.openapi).toBe('3.1.0');
    const createUser = document.paths['/admin/users']?.post;
    expect(Object.keys(createUser?.requestBody?.content['application/json']?.schema.properties ?? {})).toEqual([
      'email',
      'password',
      'name',
      'roles',
      'email_verified',
      'send_verification_email',
    ]);
    expect(createUser?.requestBody?.content['application/json']?.schema.additionalProperties).toBe(false);
    expect(document.paths['/admin/users/{id}']).toHaveProperty('patch');
    expect(document.paths['/admin/keys/rotate']).toHaveProperty('post');
  });
});
