import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { adminRouter } from '../../src/admin/admin-router.js';
import { defineRoute, uuidParams } from '../../src/admin/admin-route.js';
import { createErrorRenderer } from '../../src/http/error-renderer.js';
import { createPageRenderer } from '../../src/http/pages.js';
import { createRecordingLogger } from '../support/gatehouse.js';

// The router's contract on its own: routes declared here, a caller with every scope.
const ID = '0b6f3f5e-8a51-4c5e-9d0e-5a9b3a1f2c3d';
const routes = [
  defineRoute({
    method: 'get',
    path: '/things/:id',
    operationId: 'getThing',
    summary: 'A thing',
    scope: 'admin',
    status: 200,
    params: uuidParams,
    response: z.object({ id: z.uuid(), name: z.string() }),
    handle: async ({ params }) => ({ id: params.id, name: 'thing', secret_hash: 'must not leave' }),
  }),
  defineRoute({
    method: 'get',
    path: '/broken',
    operationId: 'getBroken',
    summary: 'Misses a declared field',
    scope: 'admin',
    status: 200,
    response: z.object({ id: z.string(), name: z.string() }),
    handle: async () => ({ id: 'x' }),
  }),
];

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function start(strictResponses: boolean) {
  const log = createRecordingLogger();
  const app = new Koa();
  const errors = createErrorRenderer(createPageRenderer(), log);
  app.use(errors.middleware('json'));
  const router = adminRouter({
    routes,
    issuer: 'http://issuer.test',
    log,
    strictResponses,
    authenticate: async () => ({ ok: true, caller: { actor: 'client:test', scopes: new Set(['admin']) } }),
    recordAuthenticationFailure: async () => {},
  });
  app.use(router.routes());
  server = createServer(app.callback()).listen(0, '127.0.0.1');
  await new Promise((resolve) => server?.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/admin`;
  const get = async (path: string) => {
    const response = await fetch(`${base}${path}`, { headers: { authorization: 'Bearer x' } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { get, log };
}

describe('admin router', () => {
  it('answers a path parameter its schema refuses with 404, as an unknown id', async () => {
    const { get } = await start(true);
    expect(await get('/things/not-a-uuid')).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });

  it('in development and tests, fails a response with fields its schema does not declare, and logs why', async () => {
    const { get, log } = await start(true);
    expect(await get(`/things/${ID}`)).toEqual({ status: 500, body: { error: 'server_error', error_description: 'unexpected error' } });
    expect(log.lines.join('\n')).toContain('getThing: response has fields its schema does not declare');
  });

  it('in production, strips the undeclared fields', async () => {
    const { get } = await start(false);
    expect(await get(`/things/${ID}`)).toEqual({ status: 200, body: { id: ID, name: 'thing' } });
  });

  it('never sends a response missing a declared field', async () => {
    for (const strict of [true, false]) {
      server?.close();
      const { get, log } = await start(strict);
      expect((await get('/broken')).status).toBe(500);
      expect(log.lines.join('\n')).toContain('getBroken: response does not match its schema: name');
    }
  });
});
