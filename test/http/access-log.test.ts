import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { API, PASSWORD, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';
import { postForm } from '../support/service-client.js';

describe('the access log', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let config: oidc.Configuration;
  let sample: Awaited<ReturnType<typeof startWithSampleApp>>['sample'];
  let service: RegisteredClient;

  const accessLines = () => gatehouse.log.records.filter((record) => 'route' in record && 'status' in record);
  const linesOf = (requestId: string) => gatehouse.log.records.filter((record) => record.requestId === requestId);

  beforeAll(async () => {
    ({ gatehouse, databaseUrl, config, sample } = await startWithSampleApp());
    service = await gatehouse.clients.registerClient({
      client_name: 'Log service',
      grant_types: ['client_credentials'],
      api_access: [{ resource: API, scopes: ['items:read'] }],
      default_resource: API,
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('writes one line per request with request id, method, route template, status, duration and client', async () => {
    const response = await postForm(`${gatehouse.issuer}/token`, { grant_type: 'client_credentials', resource: API, scope: 'items:read' }, [
      service.client_id,
      service.client_secret as string,
    ]);
    expect(response.status).toBe(200);
    const requestId = response.headers.get('x-request-id') as string;
    const lines = linesOf(requestId);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        requestId,
        method: 'POST',
        route: '/token',
        status: 200,
        durationMs: expect.any(Number),
        clientId: service.client_id,
      }),
    ]);
  });

  it('names routes by template, never by a raw path or query string', async () => {
    await fetch(`${gatehouse.issuer}/.well-known/openid-configuration?x=1`);
    await fetch(`${gatehouse.issuer}/wp-admin/setup.php?x=2`);
    await fetch(`${gatehouse.issuer}/admin/users/00000000-0000-4000-8000-000000000000`);
    const routes = accessLines().map((record) => record.route);
    expect(routes).toContain('/.well-known/openid-configuration');
    expect(routes).toContain('unmatched');
    expect(routes).toContain('/admin/users/:id');
    expect(JSON.stringify(gatehouse.log.records)).not.toMatch(/wp-admin|x=1|x=2|00000000-0000-4000/);
  });

  it('logs a protocol error with the request id of its request and the RFC error code', async () => {
    const response = await postForm(
      `${gatehouse.issuer}/token`,
      {
        grant_type: 'authorization_code',
        code: 'forged-code-value',
        redirect_uri: 'http://127.0.0.1:8765/callback',
        code_verifier: 'v'.repeat(43),
      },
      [sample.client.client_id, sample.client.client_secret as string],
    );
    expect(response.status).toBe(400);
    const requestId = response.headers.get('x-request-id') as string;
    expect(linesOf(requestId)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'info', event: 'grant.error', error: 'invalid_grant', clientId: sample.client.client_id }),
        expect.objectContaining({ route: '/token', status: 400 }),
      ]),
    );
    expect(JSON.stringify(gatehouse.log.records)).not.toContain('forged-code-value');
  });

  it('never contains the password, codes, tokens, client secrets or cookies of a whole sign-in', async () => {
    const { tokens, callbackUrl, browser } = await signIn(config, { scope: 'openid offline_access', prompt: 'consent' });
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string);
    const secrets = [
      PASSWORD,
      new URL(callbackUrl).searchParams.get('code') as string,
      tokens.access_token,
      tokens.id_token as string,
      tokens.refresh_token as string,
      refreshed.access_token,
      refreshed.refresh_token as string,
      sample.client.client_secret as string,
      service.client_secret as string,
      browser.cookie('_session') as string,
    ];
    expect(secrets.every(Boolean)).toBe(true);
    const log = JSON.stringify(gatehouse.log.records);
    expect(accessLines().some((record) => record.route === '/interaction/:uid/login' && record.clientId === sample.client.client_id)).toBe(
      true,
    );
    for (const secret of secrets) expect(log).not.toContain(secret);
  });
});
