import type { ParameterizedContext } from 'koa';
import { describe, expect, it } from 'vitest';
import { engineContextStore } from '../../src/oidc/provider-internals.js';
import { createTokenRequests, type TokenRequest } from '../../src/oidc/token-requests.js';

/** The fields of a Koa context the middleware reads, for a POST to /token. */
function tokenRequestContext(): ParameterizedContext {
  return {
    method: 'POST',
    path: '/token',
    status: 200,
    body: undefined,
    res: { closed: false },
    req: { socket: { destroyed: false } },
  } as unknown as ParameterizedContext;
}

describe('the token requests scope', () => {
  it('hands the adapter the request in progress and forgets it once the request has ended', async () => {
    const tokenRequests = createTokenRequests();
    const ctx = tokenRequestContext();
    let during: TokenRequest | undefined;
    await engineContextStore().run(ctx, async () => {
      await tokenRequests.middleware()(ctx, async () => {
        during = tokenRequests.current();
      });
      expect(during?.clientGone()).toBe(false);
      // Kept past the request, its entry (whose clientGone refers back to
      // ctx) would keep the whole request alive through young-generation
      // collections.
      expect(tokenRequests.current()).toBeUndefined();
    });
  });

  it('forgets the request when the engine throws as well', async () => {
    const tokenRequests = createTokenRequests();
    const ctx = tokenRequestContext();
    await engineContextStore().run(ctx, async () => {
      await expect(
        tokenRequests.middleware()(ctx, async () => {
          throw new Error('engine failed');
        }),
      ).rejects.toThrow('engine failed');
      expect(tokenRequests.current()).toBeUndefined();
    });
  });

  it('answers a retried refresh with the remembered successor', async () => {
    const tokenRequests = createTokenRequests();
    const ctx = tokenRequestContext();
    await engineContextStore().run(ctx, () =>
      tokenRequests.middleware()(ctx, async () => {
        const request = tokenRequests.current();
        if (!request) throw new Error('no token request in progress');
        request.successor = 'remembered-successor';
        ctx.body = { access_token: 'a', refresh_token: 'new-one' };
      }),
    );
    expect(ctx.body).toEqual({ access_token: 'a', refresh_token: 'remembered-successor' });
  });
});
