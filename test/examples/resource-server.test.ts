import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExpressApi } from '../../examples/resource-server/express-api.js';
import { createNodeApi } from '../../examples/resource-server/node-api.js';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { API, discover, PASSWORD, REDIRECT_URI, signIn, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const INVOICES = 'https://invoices.example.test/';
const EMAIL = 'finance@example.test';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Gatehouse and both example APIs, on loopback; the README's finance_admin example. */
describe('the example resource servers', () => {
  let context: Awaited<ReturnType<typeof startWithSampleApp>>;
  let app: RegisteredClient;
  let config: oidc.Configuration;
  let userId: string;
  const servers: Server[] = [];
  const apis: { name: string; url: string }[] = [];

  beforeAll(async () => {
    context = await startWithSampleApp();
    const { resources, roles, users, clients, issuer } = context.gatehouse;
    await resources.createResource({
      identifier: INVOICES,
      name: 'Invoices',
      scopes: ['read:invoices', 'write:invoices'],
      rbac: 'on',
      permissions_claim: true,
    });
    await roles.createRole({ name: 'finance_admin', permissions: [{ resource: INVOICES, scope: 'read:invoices' }] });
    userId = (await users.createUser({ email: EMAIL, password: PASSWORD, roles: ['finance_admin'], emailVerified: true })).id;
    app = await clients.registerClient({
      client_name: 'Finance console',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
      scope: 'openid offline_access',
      api_access: [
        { resource: INVOICES, scopes: ['read:invoices', 'write:invoices'] },
        { resource: API, scopes: ['items:read'] },
      ],
    });
    config = await discover(context.gatehouse, app);
    const express = createServer(createExpressApi({ issuer, audience: INVOICES }));
    const plain = createServer(await createNodeApi({ issuer, audience: INVOICES }));
    servers.push(express, plain);
    apis.push({ name: 'express', url: await listen(express) }, { name: 'node:http', url: await listen(plain) });
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await stopAndDrop(context?.gatehouse, context?.databaseUrl);
  });

  const call = async (url: string, method: string, token?: string) => {
    const response = await fetch(`${url}/invoices`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
    return {
      status: response.status,
      challenge: response.headers.get('www-authenticate') ?? '',
      body: (await response.json()) as { error?: string },
    };
  };

  it('a finance_admin gets 200 on the read route and 403 insufficient_scope on the write route; after the role goes, the refreshed token gets 403', async () => {
    const { tokens } = await signIn(config, {
      scope: 'openid offline_access read:invoices write:invoices',
      resource: INVOICES,
      prompt: 'consent',
      email: EMAIL,
    });
    for (const { url } of apis) {
      expect((await call(url, 'GET', tokens.access_token)).status).toBe(200);
      const write = await call(url, 'POST', tokens.access_token);
      expect(write).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
      expect(write.challenge).toMatch(/^Bearer realm="[^"]+", error="insufficient_scope"/);
    }

    await context.gatehouse.roles.setUserRoles(userId, []);
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string, { resource: INVOICES });
    for (const { url } of apis) {
      expect(await call(url, 'GET', refreshed.access_token)).toMatchObject({ status: 403, body: { error: 'insufficient_scope' } });
    }
    await context.gatehouse.roles.setUserRoles(userId, ['finance_admin']);
  });

  it('a token for another API, a forged one and none at all get 401 with the RFC 6750 challenge', async () => {
    const { tokens } = await signIn(config, { scope: 'openid items:read', resource: API, email: EMAIL });
    const [header, payload] = tokens.access_token.split('.');
    const forged = `${header}.${payload}.${'A'.repeat(342)}`;
    for (const { url } of apis) {
      const other = await call(url, 'GET', tokens.access_token);
      expect(other).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      expect(other.challenge).toMatch(/^Bearer realm="[^"]+", error="invalid_token"/);
      expect(await call(url, 'GET', forged)).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      const bare = await call(url, 'GET');
      expect(bare.status).toBe(401);
      expect(bare.challenge).toMatch(/^Bearer realm="[^"]+"$/);
    }
  });
});
