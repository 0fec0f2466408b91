import { readFile } from 'node:fs/promises';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import Provider from 'oidc-provider';
import type { Adapter, AdapterPayload, Client, ClientMetadata, errors, KoaContextWithOIDC } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addDevicePollingInterval,
  CHECKED_ENGINE_VERSION,
  checkBeforeClientSecretComparison,
  codeEntryFailureOf,
  compareClientSecretsWith,
  constructWithSharedOidcGetter,
  type CodeEntryFailure,
  deviceFormXsrf,
  type EngineMiddleware,
  engineContext,
  isDeviceFormRefused,
  isDeviceFlowInteraction,
  isDeviceFormWithoutSession,
  engineContextStore,
  engineRequestContext,
  isDpopProofOnlyRequest,
  isRefreshTokenReuse,
  logoutTokenSender,
  NO_DEFAULT_RESOURCE,
  onStructuredTokenRefused,
  pendingDeviceCodePolled,
  replaceBackchannelLogout,
  reuseClientPerPayload,
  takePrefilledUserCode,
  unauthorizedClientForDisallowedGrants,
  untouchUnsavedSession,
  useAroundEngine,
  useOutermost,
  userCodeOf,
} from '../../src/oidc/provider-internals.js';
import { EXTRA_CLIENT_METADATA } from '../../src/oidc/resource-indicators.js';
import { basicAuth, cookieHeader, ENGINE_KEYS, postForm, startEngine, type TestEngine } from '../support/engine.js';

// Each test pins one behaviour of oidc-provider that src/oidc/provider-internals.ts
// relies on, against the real engine (in memory, its own memory adapter). When
// one fails after an upgrade, the seam named in the test needs a new look.

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const SECRET = 'a client secret that is long enough';

/** The engine's own answer, as it left the engine: recorded innermost, before any seam rewrites it. */
interface EngineAnswer {
  readonly route: string | undefined;
  readonly status: number;
  readonly body: unknown;
}

function recordEngineAnswers(answers: EngineAnswer[]): EngineMiddleware {
  return async (ctx, next) => {
    await next();
    answers.push({ route: ctx.oidc?.route, status: ctx.status, body: structuredClone(ctx.body) });
  };
}

const clients: ClientMetadata[] = [
  {
    client_id: 'service',
    client_secret: `hashed:${SECRET}`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    api_access: [{ resource: 'https://api.test', scopes: ['read:things'] }],
    default_resource: 'https://api.test',
    introspection_resources: ['https://api.test'],
  },
  {
    client_id: 'web',
    client_secret: `hashed:${SECRET}`,
    grant_types: ['authorization_code', 'refresh_token'],
    redirect_uris: ['https://rp.test/cb'],
  },
  {
    client_id: 'tv',
    grant_types: [DEVICE_GRANT],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'none',
  },
];

describe('oidc-provider seams (src/oidc/provider-internals.ts)', () => {
  let engine: TestEngine;
  const answers: EngineAnswer[] = [];
  const secretComparisons: { presented: string; stored: string }[] = [];
  const structuredTokens: { route: string; caller: string; token: string }[] = [];
  const grantErrors: { reuse: boolean; detail: string | undefined }[] = [];
  const codeEntries: {
    xsrf: string | undefined;
    formXsrf: string | undefined;
    out: { error: string; error_description?: string } | undefined;
    error: Error | undefined;
  }[] = [];
  const confirmations: { xsrf: string | undefined; userCode: string }[] = [];
  let lastFormWithoutSession: boolean | undefined;
  let lastPrefilledCode: string | undefined;
  let lastPendingPoll: string | undefined;
  let lastUnsaved: boolean | undefined;
  const secretChecks: { method: string; route: string | undefined; secretInBody: boolean }[] = [];
  const replayChecks: { dpopProofOnly: boolean }[] = [];
  const aroundContexts: object[] = [];
  const order: { step: string; path: string; route?: string }[] = [];
  const lookupContexts: (object | undefined)[] = [];

  beforeAll(async () => {
    engine = await startEngine(
      clients,
      {
        extraClientMetadata: { properties: [...EXTRA_CLIENT_METADATA] },
        scopes: ['openid', 'offline_access'],
        features: {
          devInteractions: { enabled: false },
          clientCredentials: { enabled: true },
          introspection: { enabled: true },
          revocation: { enabled: true },
          deviceFlow: {
            enabled: true,
            charset: 'base-20',
            mask: '****-****',
            userCodeInputSource: async (ctx, form, out, error) => {
              lastUnsaved = error && ctx.get('x-untouch') === 'gatehouse' ? untouchUnsavedSession(ctx) : undefined;
              codeEntries.push({ xsrf: deviceFormXsrf(ctx), formXsrf: /name="xsrf" value="([^"]+)"/.exec(form)?.[1], out, error });
              ctx.body = 'code entry page';
            },
            userCodeConfirmSource: async (ctx, _form, _client, _deviceInfo, userCode) => {
              confirmations.push({ xsrf: deviceFormXsrf(ctx), userCode });
              ctx.body = 'confirm page';
            },
          },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => NO_DEFAULT_RESOURCE,
            getResourceServerInfo: () => {
              throw new Error('no resource server in these tests');
            },
          },
        },
      },
      (provider) => installSeams(provider),
    );
  });

  function installSeams(provider: Provider): void {
    compareClientSecretsWith(provider, (presented, stored) => {
      secretComparisons.push({ presented, stored });
      return stored === `hashed:${presented}`;
    });
    checkBeforeClientSecretComparison(provider, (client, ctx) => {
      secretChecks.push({
        method: client.clientAuthMethod,
        route: ctx?.oidc?.route,
        secretInBody: ctx?.oidc?.params?.client_secret !== undefined,
      });
    });
    useAroundEngine(provider, async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      if (ctx.get('x-order-check')) order.push({ step: 'around', path: ctx.path });
      if (ctx.get('x-context-check')) aroundContexts.push(ctx);
      await next();
    });
    useOutermost(provider, [
      async (ctx, next) => {
        if (ctx.get('x-order-check')) order.push({ step: 'outermost', path: ctx.path });
        await next();
        if (ctx.get('x-order-check')) order.push({ step: 'outermost, after', path: ctx.path, route: engineContext(ctx)?.oidc.route });
      },
    ]);
    // A model lookup the engine makes inside the request, as the adapter's are.
    const clientModel = provider.Client as unknown as { find(id: string): Promise<unknown> };
    const findClient = clientModel.find.bind(clientModel);
    clientModel.find = (id) => {
      if (engineRequestContext()?.get('x-context-check')) lookupContexts.push(engineRequestContext());
      return findClient(id);
    };
    const replayDetection = provider.ReplayDetection as unknown as { unique(...args: unknown[]): Promise<boolean> };
    const unique = replayDetection.unique.bind(replayDetection);
    replayDetection.unique = (...args) => {
      replayChecks.push({ dpopProofOnly: isDpopProofOnlyRequest() });
      return unique(...args);
    };
    provider.on('grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
      grantErrors.push({ reuse: isRefreshTokenReuse(ctx, error), detail: error.error_detail });
    });
    useAroundEngine(provider, async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      lastFormWithoutSession = isDeviceFormWithoutSession(provider, ctx, '/device');
      await next();
    });
    useAroundEngine(provider, unauthorizedClientForDisallowedGrants());
    useAroundEngine(
      provider,
      onStructuredTokenRefused(async (ctx, caller, token) => {
        structuredTokens.push({ route: ctx.oidc.route, caller: caller.clientId, token });
        ctx.status = 200;
        ctx.body = { answered: 'by Gatehouse' };
      }),
    );
    useAroundEngine(provider, async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      await next();
      const oidcCtx = engineContext(ctx);
      if (!oidcCtx) return;
      addDevicePollingInterval(oidcCtx, 7);
      lastPendingPoll = pendingDeviceCodePolled(oidcCtx);
    });
    useAroundEngine(provider, async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
      if (ctx.get('x-prefill') === 'gatehouse') lastPrefilledCode = takePrefilledUserCode(ctx, '/device');
      await next();
    });
    useAroundEngine(provider, recordEngineAnswers(answers));
  }

  afterAll(async () => {
    await engine?.close();
  });

  const lastAnswer = () => answers.at(-1);

  it('is the engine version these seams were checked against, pinned exactly in package.json', async () => {
    const installed = JSON.parse(await readFile('node_modules/oidc-provider/package.json', 'utf8')) as { version: string };
    const ours = JSON.parse(await readFile('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(installed.version).toBe(CHECKED_ENGINE_VERSION);
    expect(ours.dependencies['oidc-provider']).toBe(CHECKED_ENGINE_VERSION);
  });

  it('authenticates client secrets through Client.prototype.compareClientSecret, with the stored client_secret as this.clientSecret', async () => {
    secretComparisons.length = 0;
    const right = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', SECRET) },
    );
    expect(right.status).toBe(200);
    expect(secretComparisons).toEqual([{ presented: SECRET, stored: `hashed:${SECRET}` }]);

    const storedValue = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', `hashed:${SECRET}`) },
    );
    expect(storedValue.status).toBe(401);
    expect(storedValue.json?.error).toBe('invalid_client');
  });

  it('runs the secret comparison inside the request: Provider.ctx is its context, with a body client_secret in ctx.oidc.params', async () => {
    secretChecks.length = 0;
    const basic = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', SECRET) },
    );
    expect(basic.status).toBe(200);
    const post = await postForm(`${engine.url}/token`, { grant_type: 'client_credentials', client_id: 'service', client_secret: SECRET });
    expect(post.status).toBe(200);
    expect(secretChecks).toEqual([
      { method: 'client_secret_basic', route: 'token', secretInBody: false },
      { method: 'client_secret_basic', route: 'token', secretInBody: true },
    ]);
  });

  it('runs middleware put first in its Koa middleware array before everything provider.use added, for routed and unrouted requests, in the same context', async () => {
    order.length = 0;
    const token = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', SECRET), 'x-order-check': '1' },
    );
    expect(token.status).toBe(200);
    const unrouted = await fetch(`${engine.url}/no-such-route`, { headers: { 'x-order-check': '1' } });
    expect(unrouted.status).toBe(404);
    expect(order).toEqual([
      { step: 'outermost', path: '/token' },
      { step: 'around', path: '/token' },
      { step: 'outermost, after', path: '/token', route: 'token' },
      { step: 'outermost', path: '/no-such-route' },
      { step: 'around', path: '/no-such-route' },
      { step: 'outermost, after', path: '/no-such-route', route: undefined },
    ]);
  });

  it('makes its model lookups inside the request with Provider.ctx set to the context around-engine middleware saw, and none outside', async () => {
    const answer = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', SECRET), 'x-context-check': '1' },
    );
    expect(answer.status).toBe(200);
    expect(aroundContexts).toHaveLength(1);
    expect(lookupContexts.length).toBeGreaterThan(0);
    for (const seen of lookupContexts) expect(seen).toBe(aroundContexts[0]);
    expect(engineRequestContext()).toBeUndefined();
  });

  it('keeps the request in one AsyncLocalStorage, the module lib/helpers/als.js, which Provider.ctx reads', async () => {
    const marker = { state: {} };
    expect(engineContextStore().run(marker, () => engineRequestContext())).toBe(marker);
    // Its routes enter it with their Koa context (the lookups test above sees that context through Provider.ctx).
    const answer = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', SECRET), 'x-context-check': '1' },
    );
    expect(answer.status).toBe(200);
    expect(lookupContexts.at(-1)).toBe(aroundContexts.at(-1));
    expect(engineContextStore().getStore()).toBeUndefined();
  });

  it('checks a DPoP proof for replay through ReplayDetection inside the request: Provider.ctx is its context', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: `${engine.url}/token`, jti: crypto.randomUUID() })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })
      .setIssuedAt()
      .sign(privateKey);
    replayChecks.length = 0;
    const answer = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', SECRET), dpop: proof },
    );
    expect(answer.json?.token_type).toBe('DPoP');
    expect(replayChecks).toEqual([{ dpopProofOnly: true }]);
  });

  it('delivers back-channel logout through Client.prototype.backchannelLogout, which end_session calls; the seam queues and keeps the original', async () => {
    const endSession = await readFile('node_modules/oidc-provider/lib/actions/end_session.js', 'utf8');
    expect(endSession).toContain('client.backchannelLogout(accountId, sid)');
    const { provider } = engine;
    const prototype = provider.Client.prototype as unknown as Record<string, unknown>;
    const original = prototype.backchannelLogout;
    expect(typeof original).toBe('function');
    const queued: unknown[] = [];
    replaceBackchannelLogout(provider, async (logout) => {
      queued.push(logout);
    });
    try {
      expect(prototype.sendLogoutTokenNow).toBe(original);
      const client = (await provider.Client.find('web')) as unknown as { backchannelLogout(sub: string, sid: string): Promise<void> };
      await client.backchannelLogout('ada', 'sid-1');
      expect(queued).toEqual([{ clientId: 'web', accountId: 'ada', sid: 'sid-1' }]);
      expect(await logoutTokenSender(provider, 'web')).toBeUndefined();
    } finally {
      prototype.backchannelLogout = original;
      delete prototype.sendLogoutTokenNow;
    }
  });

  it('accepts no resource from defaultResource (undefined, though typed string): a token without an audience', async () => {
    const answer = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth('service', SECRET) },
    );
    expect(answer.status).toBe(200);
    expect(typeof answer.json?.access_token).toBe('string');
  });

  it('hands extra client metadata back on Client instances under its own name', async () => {
    const client: Client | undefined = await engine.provider.Client.find('service');
    expect(client?.api_access).toEqual([{ resource: 'https://api.test', scopes: ['read:things'] }]);
    expect(client?.default_resource).toBe('https://api.test');
    expect(client?.introspection_resources).toEqual(['https://api.test']);
  });

  it('answers invalid_request for a grant type the client is not registered for; the seam makes it unauthorized_client', async () => {
    const token = await postForm(`${engine.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth('web', SECRET) });
    expect(lastAnswer()).toMatchObject({ route: 'token', status: 400, body: { error: 'invalid_request' } });
    expect(token.status).toBe(400);
    expect(token.json?.error).toBe('unauthorized_client');

    const device = await postForm(`${engine.url}/device/auth`, { client_id: 'web' }, { authorization: basicAuth('web', SECRET) });
    expect(lastAnswer()).toMatchObject({ route: 'device_authorization', status: 400, body: { error: 'invalid_request' } });
    expect(device.json?.error).toBe('unauthorized_client');
  });

  it('refuses JWTs at introspection and revocation with unsupported_token_type after authenticating the caller', async () => {
    const jwt = await new SignJWT({ sub: 'someone' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('k'.repeat(32)));
    for (const [path, route] of [
      ['/token/introspection', 'introspection'],
      ['/token/revocation', 'revocation'],
    ] as const) {
      structuredTokens.length = 0;
      const answer = await postForm(`${engine.url}${path}`, { token: jwt }, { authorization: basicAuth('service', SECRET) });
      expect(lastAnswer()).toMatchObject({ route, status: 400, body: { error: 'unsupported_token_type' } });
      expect(structuredTokens).toEqual([{ route, caller: 'service', token: jwt }]);
      expect(answer.json).toEqual({ answered: 'by Gatehouse' });
    }
  });

  it("answers a consumed refresh token with InvalidGrant whose detail says 'already used'", async () => {
    const { provider } = engine;
    const client = await provider.Client.find('web');
    const grant = new provider.Grant({ accountId: 'ada', clientId: 'web' });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    if (!client) throw new Error('client web is registered above');
    const refreshToken = new provider.RefreshToken({
      client,
      accountId: 'ada',
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
    });
    refreshToken.consumed = Math.floor(Date.now() / 1000);
    const value = await refreshToken.save();

    grantErrors.length = 0;
    const answer = await postForm(
      `${engine.url}/token`,
      { grant_type: 'refresh_token', refresh_token: value },
      { authorization: basicAuth('web', SECRET) },
    );
    expect(answer.json?.error).toBe('invalid_grant');
    expect(grantErrors).toEqual([{ reuse: true, detail: 'refresh token already used' }]);
  });

  describe('device flow', () => {
    async function startDevice() {
      const answer = await postForm(`${engine.url}/device/auth`, { client_id: 'tv', scope: 'openid' });
      return { deviceCode: String(answer.json?.device_code), userCode: String(answer.json?.user_code), answer };
    }

    /** A browser session on the code entry page: its cookie and the form's xsrf token. */
    async function openEntryPage() {
      codeEntries.length = 0;
      const page = await fetch(`${engine.url}/device`);
      expect(await page.text()).toBe('code entry page');
      const entry = codeEntries[0];
      return { cookie: cookieHeader(page.headers.getSetCookie()), xsrf: entry?.formXsrf ?? '', entry };
    }

    async function submitCode(form: Record<string, string>) {
      const { cookie, xsrf } = await openEntryPage();
      codeEntries.length = 0;
      confirmations.length = 0;
      const answer = await postForm(`${engine.url}/device`, { xsrf, ...form }, { cookie });
      return { answer, entry: codeEntries[0], confirmation: confirmations[0], xsrf };
    }

    async function failureFor(
      form: Record<string, string>,
    ): Promise<{ failure: CodeEntryFailure | undefined; userCode: string | undefined }> {
      const { entry } = await submitCode(form);
      return { failure: codeEntryFailureOf(entry?.error), userCode: userCodeOf(entry?.error) };
    }

    it('leaves interval out of the device authorization answer; the seam adds it', async () => {
      const { answer } = await startDevice();
      expect(lastAnswer()?.body).not.toHaveProperty('interval');
      expect(answer.json?.interval).toBe(7);
    });

    it('keeps the code form xsrf secret in session.state.secret', async () => {
      const { entry, xsrf } = await openEntryPage();
      expect(xsrf).toMatch(/^[0-9a-f]{48}$/);
      expect(entry?.xsrf).toBe(xsrf);

      const { userCode } = await startDevice();
      const confirm = await submitCode({ user_code: userCode });
      expect(confirm.answer.text).toBe('confirm page');
      expect(confirm.confirmation).toEqual({ xsrf: confirm.xsrf, userCode });
    });

    it('names what went wrong with a code by internal error name, with the code as typed', async () => {
      expect(await failureFor({ user_code: '' })).toEqual({ failure: 'missing', userCode: undefined });
      expect(await failureFor({ user_code: 'bcdf-ghjk' })).toEqual({ failure: 'not_found', userCode: 'bcdf-ghjk' });

      const { provider } = engine;
      const client = await provider.Client.find('tv');
      if (!client) throw new Error('client tv is registered above');
      const stored = { client, grantId: 'grant', deviceInfo: {}, params: { client_id: 'tv', scope: 'openid' } };
      const expired = new provider.DeviceCode({ ...stored, userCode: 'XWXWXWXW', expiresIn: 60 });
      expired.exp = Math.floor(Date.now() / 1000) - 5;
      await expired.save();
      expect(await failureFor({ user_code: 'XWXW-XWXW' })).toEqual({ failure: 'expired', userCode: 'XWXW-XWXW' });

      const used = new provider.DeviceCode({ ...stored, userCode: 'ZQZQZQZQ', accountId: 'ada' });
      await used.save();
      expect(await failureFor({ user_code: 'ZQZQ-ZQZQ' })).toEqual({ failure: 'already_used', userCode: 'ZQZQ-ZQZQ' });

      const { userCode } = await startDevice();
      expect(await failureFor({ user_code: userCode, abort: 'yes' })).toEqual({ failure: 'aborted', userCode: undefined });
    });

    it("refuses a code form with a wrong xsrf token as invalid_request 'xsrf token invalid'", async () => {
      const { cookie } = await openEntryPage();
      codeEntries.length = 0;
      await postForm(`${engine.url}/device`, { xsrf: 'forged', user_code: 'BCDF-GHJK' }, { cookie });
      expect(codeEntries[0]?.out).toMatchObject({ error: 'invalid_request', error_description: 'xsrf token invalid' });
      expect(isDeviceFormRefused(codeEntries[0]?.out)).toBe(true);
    });

    it('fails with a 500 on a code form posted without a session cookie, so the seam answers it first', async () => {
      codeEntries.length = 0;
      const answer = await postForm(`${engine.url}/device`, { xsrf: 'anything', user_code: 'BCDF-GHJK' });
      expect(lastFormWithoutSession).toBe(true);
      expect(answer.status).toBe(500);
    });

    it('fails with a 500 re-rendering the code form on a session it never saved; the seam marks it untouched', async () => {
      const unknownSession = { cookie: '_session=not-a-session-of-this-server' };
      const stock = await postForm(`${engine.url}/device`, { xsrf: 'anything', user_code: 'BCDF-GHJK' }, unknownSession);
      expect(stock.status).toBe(500);

      const ours = await postForm(
        `${engine.url}/device`,
        { xsrf: 'anything', user_code: 'BCDF-GHJK' },
        { ...unknownSession, 'x-untouch': 'gatehouse' },
      );
      expect(lastUnsaved).toBe(true);
      expect(ours.status).toBe(400);
      expect(ours.text).toBe('code entry page');

      // A session the engine saved is left alone.
      const { cookie } = await openEntryPage();
      await postForm(`${engine.url}/device`, { xsrf: 'forged', user_code: 'BCDF-GHJK' }, { cookie, 'x-untouch': 'gatehouse' });
      expect(lastUnsaved).toBe(false);
    });

    it('auto-submits verification_uri_complete; the seam moves the code aside so the entry page shows it', async () => {
      const { userCode } = await startDevice();
      const complete = `${engine.url}/device?user_code=${encodeURIComponent(userCode)}`;
      codeEntries.length = 0;
      const stock = await (await fetch(complete)).text();
      expect(stock).toContain('method="post"');
      expect(stock).toContain(userCode);
      expect(codeEntries).toHaveLength(0);

      const ours = await (await fetch(complete, { headers: { 'x-prefill': 'gatehouse' } })).text();
      expect(ours).toBe('code entry page');
      expect(lastPrefilledCode).toBe(userCode);
    });

    it('marks an interaction the device flow started with deviceCode, and no other', async () => {
      const { userCode } = await startDevice();
      const { cookie, xsrf } = await openEntryPage();
      const confirm = await postForm(`${engine.url}/device`, { xsrf, user_code: userCode }, { cookie });
      expect(confirm.text).toBe('confirm page');
      const confirmed = await fetch(`${engine.url}/device`, {
        method: 'POST',
        body: new URLSearchParams({ xsrf, user_code: userCode, confirm: 'yes' }),
        headers: { cookie },
        redirect: 'manual',
      });
      const deviceUid = /\/interaction\/([^/?]+)/.exec(confirmed.headers.get('location') ?? '')?.[1];
      const deviceInteraction = deviceUid ? await engine.provider.Interaction.find(deviceUid) : undefined;
      expect(deviceInteraction && isDeviceFlowInteraction(deviceInteraction)).toBe(true);

      const authorize = await fetch(
        `${engine.url}/auth?${new URLSearchParams({ client_id: 'web', response_type: 'code', scope: 'openid', redirect_uri: 'https://rp.test/cb' })}`,
        { redirect: 'manual' },
      );
      const webUid = /\/interaction\/([^/?]+)/.exec(authorize.headers.get('location') ?? '')?.[1];
      const webInteraction = webUid ? await engine.provider.Interaction.find(webUid) : undefined;
      expect(webInteraction && isDeviceFlowInteraction(webInteraction)).toBe(false);
    });

    it('answers a poll of a pending code with authorization_pending, never slow_down', async () => {
      const { deviceCode } = await startDevice();
      for (let poll = 0; poll < 2; poll += 1) {
        const answer = await postForm(`${engine.url}/token`, { grant_type: DEVICE_GRANT, device_code: deviceCode, client_id: 'tv' });
        expect(answer.json?.error).toBe('authorization_pending');
      }
      expect(lastAnswer()).toMatchObject({ route: 'token', status: 400, body: { error: 'authorization_pending' } });
      expect(lastPendingPoll).toBe(deviceCode);
    });
  });
});

// The engine's own Client.find against adapter-served clients (not static
// ones), with and without the seam (src/oidc/provider-internals.ts,
// reuseClientPerPayload). Payloads are handed out as Gatehouse's client
// adapter does: one object per client until that client changes.

/**
 * One more than oidc-provider's cache of built clients can hold (lib/provider.js,
 * `dynamicClients`: a quick-lru of maxSize 100, which keeps 100 to 200).
 */
const CLIENTS = 201;

function servicePayload(clientId: string, name = `Service ${clientId}`): AdapterPayload {
  return {
    client_id: clientId,
    client_name: name,
    client_secret: `hashed:${SECRET}`,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  } as AdapterPayload;
}

function engineWithClients(payloads: Map<string, AdapterPayload>, install: (provider: Provider) => void): Promise<TestEngine> {
  const stored = new Map<string, AdapterPayload>();
  class ClientsFromMap implements Adapter {
    constructor(private readonly model: string) {}
    async find(id: string) {
      return this.model === 'Client' ? payloads.get(id) : stored.get(`${this.model}:${id}`);
    }
    async upsert(id: string, payload: AdapterPayload) {
      stored.set(`${this.model}:${id}`, payload);
    }
    async findByUserCode() {
      return undefined;
    }
    async findByUid() {
      return undefined;
    }
    async consume() {}
    async destroy(id: string) {
      stored.delete(`${this.model}:${id}`);
    }
    async revokeByGrantId() {}
  }
  return startEngine([], { adapter: ClientsFromMap, features: { clientCredentials: { enabled: true } } }, (provider) => {
    compareClientSecretsWith(provider, (presented, stored) => stored === `hashed:${presented}`);
    install(provider);
  });
}

const ids = Array.from({ length: CLIENTS }, (_, n) => `service-${n}`);
const findClient = (engine: TestEngine, id: unknown) =>
  (engine.provider.Client as unknown as { find(id: unknown): Promise<Client | undefined> }).find(id);

describe('one Client per client payload (reuseClientPerPayload)', () => {
  const payloads = new Map(ids.map((id) => [id, servicePayload(id)]));
  let engine: TestEngine;
  let withoutSeam: TestEngine;

  beforeAll(async () => {
    engine = await engineWithClients(payloads, reuseClientPerPayload);
    withoutSeam = await engineWithClients(payloads, () => {});
  });
  afterAll(async () => {
    await engine?.close();
    await withoutSeam?.close();
  });

  it('builds a client again once 200 others were found since, without the seam (the engine alone)', async () => {
    const first = await findClient(withoutSeam, ids[0]);
    for (const id of ids.slice(1)) await findClient(withoutSeam, id);
    const again = await findClient(withoutSeam, ids[0]);
    expect(again?.clientId).toBe(ids[0]);
    expect(again).not.toBe(first);
  });

  it('returns the Client built for a payload each time that payload comes back, however many clients are in use', async () => {
    const built = new Map<string, Client | undefined>();
    for (const id of ids) built.set(id, await findClient(engine, id));
    for (const id of ids) {
      const found = await findClient(engine, id);
      expect(found?.clientId).toBe(id);
      expect(found).toBe(built.get(id));
    }
  });

  it('builds a new Client, with the new metadata, when the adapter hands out a new payload for the client', async () => {
    const id = ids[1] as string;
    const before = await findClient(engine, id);
    payloads.set(id, servicePayload(id, 'Renamed service'));
    const after = await findClient(engine, id);
    expect(after).not.toBe(before);
    expect(after?.clientName).toBe('Renamed service');
    expect(await findClient(engine, id)).toBe(after);
  });

  it('finds nothing for a client the adapter no longer has (deleted)', async () => {
    const id = ids[3] as string;
    expect((await findClient(engine, id))?.clientId).toBe(id);
    const payload = payloads.get(id) as AdapterPayload;
    payloads.delete(id);
    expect(await findClient(engine, id)).toBeUndefined();
    payloads.set(id, payload);
  });

  it('takes a rotated secret at once: the old secret is refused, the new one gets a token', async () => {
    const id = ids[4] as string;
    const ask = (secret: string) =>
      postForm(`${engine.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(id, secret) });
    expect((await ask(SECRET)).status).toBe(200);
    const newSecret = 'the rotated client secret, long enough';
    payloads.set(id, { ...servicePayload(id), client_secret: `hashed:${newSecret}` } as AdapterPayload);
    const old = await ask(SECRET);
    expect(old.status).toBe(401);
    expect(old.json?.error).toBe('invalid_client');
    expect((await ask(newSecret)).status).toBe(200);
  });

  it('finds nothing for an unknown, empty or non-string client id', async () => {
    expect(await findClient(engine, 'no-such-client')).toBeUndefined();
    expect(await findClient(engine, '')).toBeUndefined();
    expect(await findClient(engine, 42)).toBeUndefined();
  });

  it('keeps nothing for a payload the engine refuses, and builds the corrected one', async () => {
    const id = 'service-being-fixed';
    payloads.set(id, { ...servicePayload(id), grant_types: ['no-such-grant'] } as AdapterPayload);
    for (const attempt of [1, 2]) {
      await expect(findClient(engine, id), `attempt ${attempt}`).rejects.toMatchObject({
        error: 'invalid_client_metadata',
        error_description: expect.stringContaining('grant_types'),
      });
    }
    payloads.set(id, servicePayload(id));
    expect((await findClient(engine, id))?.clientId).toBe(id);
  });

  it('authenticates token requests with the reused Client: the right secret gets a token, a wrong one invalid_client', async () => {
    const id = ids[2] as string;
    for (const attempt of [1, 2]) {
      const issued = await postForm(`${engine.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth(id, SECRET) });
      expect(issued.status, `attempt ${attempt}: ${issued.text}`).toBe(200);
      expect(issued.json?.access_token).toEqual(expect.any(String));
    }
    const refused = await postForm(
      `${engine.url}/token`,
      { grant_type: 'client_credentials' },
      { authorization: basicAuth(id, 'a wrong secret, long enough too') },
    );
    expect(refused.status).toBe(401);
    expect(refused.json?.error).toBe('invalid_client');
  });
});

describe('one ctx.oidc getter for every request (constructWithSharedOidcGetter)', () => {
  interface SeenRequest {
    readonly getter: unknown;
    readonly first: unknown;
    readonly second: unknown;
    readonly isEngineContext: boolean;
  }
  const service = {
    client_id: 'service',
    client_secret: SECRET,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  };
  const configuration = { features: { clientCredentials: { enabled: true } } };
  const withSeam: SeenRequest[] = [];
  const engineAlone: SeenRequest[] = [];
  const requestContexts: unknown[] = [];
  let engine: TestEngine;
  let withoutSeam: TestEngine;

  /** Records, after the route ran, how `ctx.oidc` is defined on the request's context and what it reads. */
  function recordOidcContexts(list: SeenRequest[]) {
    return (provider: Provider) => {
      useAroundEngine(provider, async (ctx: KoaContextWithOIDC, next: () => Promise<void>) => {
        await next();
        const first = ctx.oidc;
        list.push({
          getter: Object.getOwnPropertyDescriptor(ctx, 'oidc')?.get,
          first,
          second: ctx.oidc,
          isEngineContext: first instanceof provider.OIDCContext,
        });
      });
      compareClientSecretsWith(provider, (presented, stored) => {
        requestContexts.push(engineRequestContext()?.oidc);
        return presented === stored;
      });
    };
  }
  const tokenFrom = (target: TestEngine) =>
    postForm(`${target.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth('service', SECRET) });

  beforeAll(async () => {
    engine = await startEngine([service], configuration, recordOidcContexts(withSeam), constructWithSharedOidcGetter);
    withoutSeam = await startEngine([service], configuration, recordOidcContexts(engineAlone));
  });
  afterAll(async () => {
    await engine?.close();
    await withoutSeam?.close();
  });

  it('defines ctx.oidc with a new getter per request in the engine alone (why the seam exists), also when built after the seam was used', async () => {
    for (const attempt of [1, 2]) expect((await tokenFrom(withoutSeam)).status, `attempt ${attempt}`).toBe(200);
    const [one, two] = engineAlone.slice(-2);
    expect(one?.getter).toEqual(expect.any(Function));
    expect(two?.getter).not.toBe(one?.getter);
  });

  it('gives each request one OIDCContext, the same on every read and another for the next request, through one getter shared by all', async () => {
    requestContexts.length = 0;
    for (const attempt of [1, 2]) {
      const issued = await tokenFrom(engine);
      expect(issued.status, `attempt ${attempt}: ${issued.text}`).toBe(200);
      expect(issued.json?.access_token).toEqual(expect.any(String));
    }
    const [one, two] = withSeam.slice(-2);
    for (const request of [one, two]) {
      expect(request?.isEngineContext).toBe(true);
      expect(request?.second).toBe(request?.first);
      expect((request?.first as KoaContextWithOIDC['oidc'] | undefined)?.route).toBe('token');
    }
    expect(two?.first).not.toBe(one?.first);
    expect(two?.getter).toBe(one?.getter);
    // Inside the route, the engine's AsyncLocalStorage holds the request's context (Provider.ctx).
    expect(requestContexts).toEqual([one?.first, two?.first]);
  });

  it('refuses a construction that built no engine or two, and leaves the router as it was after a refusal or a throw', async () => {
    expect(() =>
      constructWithSharedOidcGetter(() => {
        throw new Error('the configuration was refused');
      }),
    ).toThrow('the configuration was refused');
    const recheck = `re-check this seam (checked against ${CHECKED_ENGINE_VERSION}, where every route of one router has it)`;
    expect(() => constructWithSharedOidcGetter(() => engine.provider)).toThrow(
      `oidc-provider registered 0 routes on 0 routers, 0 with ensureOIDC first: ${recheck}`,
    );
    // Two Providers built inside one construction would share the first one's getter.
    let refusal = '';
    try {
      constructWithSharedOidcGetter(() => {
        const quiet = { ...ENGINE_KEYS, features: { devInteractions: { enabled: false } } };
        const built = new Provider('http://issuer.test', quiet);
        new Provider('http://other-issuer.test', quiet);
        return built;
      });
    } catch (error) {
      refusal = (error as Error).message;
    }
    const routes = Number(/registered (\d+) routes/.exec(refusal)?.[1]);
    expect(routes).toBeGreaterThan(0);
    expect(refusal).toBe(`oidc-provider registered ${routes} routes on 2 routers, ${routes} with ensureOIDC first: ${recheck}`);
    // An engine built afterwards, without the seam, is the engine alone again.
    const afterwards: SeenRequest[] = [];
    const plain = await startEngine([service], configuration, recordOidcContexts(afterwards));
    try {
      for (const attempt of [1, 2]) expect((await tokenFrom(plain)).status, `attempt ${attempt}`).toBe(200);
      expect(afterwards[1]?.getter).not.toBe(afterwards[0]?.getter);
    } finally {
      await plain.close();
    }
  });

  it("answers the engine's GET routes through the shared getter too (discovery, HEAD included)", async () => {
    for (const method of ['GET', 'HEAD']) {
      const answer = await fetch(`${engine.url}/.well-known/openid-configuration`, { method });
      expect(answer.status, method).toBe(200);
    }
    const [get, head] = withSeam.slice(-2);
    const [token] = withSeam;
    for (const request of [get, head]) {
      expect((request?.first as KoaContextWithOIDC['oidc'] | undefined)?.route).toBe('discovery');
      expect(request?.getter).toBe(token?.getter);
    }
  });
});
