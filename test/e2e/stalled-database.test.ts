import * as oidc from 'openid-client';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { currentRequest } from '../../src/log.js';
import { storageId } from '../../src/oidc/prisma-adapter.js';
import { adminTokenForUser } from '../support/admin.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { discover, registerSampleApp, signIn } from '../support/sample-app.js';

const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let tries = 0; tries < 600; tries++) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a stalled database (Postgres paused with SIGSTOP)', () => {
  let postgres: OwnPostgres;
  let gatehouse: TestGatehouse;
  let config: oidc.Configuration;
  let sample: Awaited<ReturnType<typeof registerSampleApp>>;

  const basic = () => `Basic ${Buffer.from(`${sample.client.client_id}:${sample.client.client_secret}`).toString('base64')}`;
  const refreshRequest = (refreshToken: string, signal?: AbortSignal) =>
    fetch(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { authorization: basic(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
      signal,
    });

  beforeAll(async () => {
    postgres = await startOwnPostgres();
    // Grace off: a consumed token would show as a revoked family, not be hidden by a retry.
    gatehouse = await startTestGatehouse(postgres.connectionString, {
      GATEHOUSE_ADMIN_EMAIL: 'root@example.test',
      GATEHOUSE_ADMIN_PASSWORD: 'root password 1234',
      GATEHOUSE_DATABASE_TIMEOUT: '1s',
      GATEHOUSE_DATABASE_CONNECT_TIMEOUT: '1s',
      GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '0',
    });
    sample = await registerSampleApp(gatehouse);
    config = await discover(gatehouse, sample.client);
  });
  afterEach(() => postgres.resume());
  afterAll(async () => {
    postgres?.resume();
    await gatehouse?.stop();
    await postgres?.destroy();
  });

  it('a refresh fails with 503 temporarily_unavailable and Retry-After instead of hanging, and the token still works after', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    postgres.pause();
    let response: Response;
    try {
      response = await refreshRequest(tokens.refresh_token as string);
    } finally {
      postgres.resume();
    }
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.access_token).toEqual(expect.any(String));
  });

  it('the admin API answers 503 temporarily_unavailable with Retry-After too, then recovers', async () => {
    const token = await adminTokenForUser(gatehouse, 'root@example.test', 'root password 1234');
    const listUsers = () => fetch(`${gatehouse.url}/admin/users`, { headers: { authorization: `Bearer ${token}` } });
    postgres.pause();
    let response: Response;
    try {
      response = await listUsers();
    } finally {
      postgres.resume();
    }
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect((await listUsers()).status).toBe(200);
  });

  it('a refresh whose client gave up while the database stalled consumes nothing, and is logged as abandoned', async () => {
    const { tokens } = await signIn(config, OFFLINE);
    const token = tokens.refresh_token as string;
    const row = () =>
      gatehouse.prisma.oidcPayload.findUniqueOrThrow({ where: { model_id: { model: 'RefreshToken', id: storageId(token) } } });
    const abandonedLines = () => gatehouse.log.lines.filter((line) => line.includes('POST /token') && line.includes('abandoned'));
    const before = abandonedLines().length;

    // The server must still be waiting when the database comes back: a long timeout for this one instance.
    const patient = await startTestGatehouse(postgres.connectionString, {
      ISSUER: gatehouse.issuer,
      GATEHOUSE_DATABASE_TIMEOUT: '60s',
      GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '0',
    });
    try {
      const patientAbandoned = () => patient.log.lines.filter((line) => line.includes('POST /token') && line.includes('abandoned'));
      const controller = new AbortController();
      // Abort once the request waits on the database: it has asked the pool for a connection.
      let waitingOnDatabase = false;
      const connect = pg.Pool.prototype.connect;
      const spy = vi.spyOn(pg.Pool.prototype, 'connect').mockImplementation(function (this: pg.Pool, ...args: unknown[]) {
        if (currentRequest()?.requestId === 'abandoned-refresh') waitingOnDatabase = true;
        return (connect as (...all: unknown[]) => unknown).apply(this, args);
      } as typeof pg.Pool.prototype.connect);
      postgres.pause();
      try {
        const request = fetch(`${patient.url}/token`, {
          method: 'POST',
          headers: {
            authorization: basic(),
            'content-type': 'application/x-www-form-urlencoded',
            'x-request-id': 'abandoned-refresh',
          },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
          signal: controller.signal,
        }).catch((error: unknown) => error);
        await expect.poll(() => waitingOnDatabase).toBe(true);
        controller.abort();
        await request;
      } finally {
        postgres.resume();
        spy.mockRestore();
      }
      // The server finishes the request on its side, without consuming the token.
      await eventually(() => patientAbandoned().length > 0, 'the abandoned request to be logged');
      expect(patientAbandoned()[0]).toMatch(/POST \/token \d{3} \d+ms abandoned/);
      expect((await row()).consumedAt).toBeNull();
      expect(abandonedLines().length).toBe(before);
      const refreshed = await oidc.refreshTokenGrant(config, token);
      expect(refreshed.refresh_token).toEqual(expect.any(String));
    } finally {
      await patient.stop();
    }
  });
});
