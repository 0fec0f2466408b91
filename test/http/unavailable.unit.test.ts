import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import { createConcurrencyLimit } from '../../src/accounts/passwords.js';
import { createErrorRenderer } from '../../src/http/error-renderer.js';
import { createPageRenderer } from '../../src/http/pages.js';
import { RETRY_AFTER_SECONDS } from '../../src/http/unavailable.js';
import { silentLogger } from '../../src/log.js';

describe('503 answers', () => {
  it('the argon2 queue being full answers 503 temporarily_unavailable with Retry-After', async () => {
    // One at a time, nobody may wait: the second concurrent sign-in is turned away.
    const limit = createConcurrencyLimit(1, 0);
    let release = () => {};
    const busy = new Promise<void>((resolve) => (release = resolve));
    const app = new Koa();
    app.use(createErrorRenderer(createPageRenderer(), silentLogger).middleware('json'));
    app.use(async (ctx) => {
      await limit(() => (ctx.path === '/slow' ? busy : Promise.resolve()));
      ctx.body = { ok: true };
    });
    const server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const slow = fetch(`${base}/slow`);
      let turnedAway: Response | undefined;
      for (let tries = 0; tries < 100 && turnedAway?.status !== 503; tries++) turnedAway = await fetch(`${base}/fast`);
      expect(turnedAway?.status).toBe(503);
      expect(turnedAway?.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS));
      expect(await turnedAway?.json()).toMatchObject({ error: 'temporarily_unavailable' });
      release();
      expect((await slow).status).toBe(200);
      expect((await fetch(`${base}/fast`)).headers.get('retry-after')).toBeNull();
    } finally {
      release();
      server.close();
    }
  });
});
