import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import { approveOnPages, DEVICE_GRANT, pollOnce, registerDeviceApp } from '../support/device.js';
import {
  API,
  type AuthorizationParameters,
  authorizationRequestWithPkce,
  discover,
  PASSWORD,
  REDIRECT_URI,
  RFC7636_EXAMPLE_CODE_VERIFIER,
  signIn,
  startWithSampleApp,
  stopAndDrop,
} from '../support/sample-app.js';
import { postForm } from '../support/service-client.js';

const INVOICES = 'https://invoices.example.test/';
/** Another API that also defines `items:read`: the cross-API case. */
const OTHER_ITEMS = 'https://other-items.example.test/';
const EMAIL = 'fin@example.test';

describe('roles, permissions and client grants in tokens', () => {
  let context: Awaited<ReturnType<typeof startWithSampleApp>>;
  let finance: RegisteredClient;
  let financeConfig: oidc.Configuration;
  let userId: string;

  const gatehouse = () => context.gatehouse;
  // offline_access needs prompt=consent (OIDC Core §11).
  const financeScopes = {
    scope: 'openid offline_access read:invoices write:invoices',
    resource: INVOICES,
    email: EMAIL,
    prompt: 'consent',
  };

  beforeAll(async () => {
    context = await startWithSampleApp({ GATEHOUSE_DEVICE_POLL_INTERVAL: '1' });
    const { resources, roles, users, clients } = context.gatehouse;
    await resources.createResource({
      identifier: INVOICES,
      name: 'Invoices',
      scopes: ['read:invoices', 'write:invoices'],
      rbac: 'on',
      permissions_claim: true,
    });
    await resources.createResource({ identifier: OTHER_ITEMS, name: 'Other items', scopes: ['items:read'] });
    await roles.createRole({
      name: 'finance_admin',
      description: 'Reads invoices',
      permissions: [{ resource: INVOICES, scope: 'read:invoices' }],
    });
    userId = (await users.createUser({ email: EMAIL, password: PASSWORD, roles: ['finance_admin'], emailVerified: true })).id;
    finance = await clients.registerClient({
      client_name: 'Finance web',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
      token_endpoint_auth_method: 'none',
      scope: 'openid offline_access roles',
      api_access: [{ resource: INVOICES, scopes: ['read:invoices', 'write:invoices'] }],
    });
    financeConfig = await discover(context.gatehouse, finance);
  });
  afterAll(() => stopAndDrop(context?.gatehouse, context?.databaseUrl));

  describe('with rbac on', () => {
    it('consent lists only the scopes the user holds; the token carries requested ∩ permitted, the permissions and the roles', async () => {
      const browser = new Browser();
      const { url, codeVerifier } = await authorizationRequestWithPkce(financeConfig, {
        scope: financeScopes.scope,
        resource: INVOICES,
        prompt: 'consent',
        state: 's1',
      });
      const login = await browser.open(url, { stopAt: REDIRECT_URI });
      const consent = await browser.submit(login, '/login', { email: EMAIL, password: PASSWORD }, { stopAt: REDIRECT_URI });
      expect(consent.html).toContain('read:invoices');
      expect(consent.html).not.toContain('write:invoices');
      const callback = await browser.submit(consent, '/confirm', {}, { stopAt: REDIRECT_URI });
      const tokens = await oidc.authorizationCodeGrant(
        financeConfig,
        new URL(callback.url),
        { pkceCodeVerifier: codeVerifier, expectedState: 's1' },
        { resource: INVOICES },
      );
      expect(tokens.scope).toBe('read:invoices');
      expect(decodeJwt(tokens.access_token)).toMatchObject({
        aud: INVOICES,
        scope: 'read:invoices',
        permissions: ['read:invoices'],
        roles: ['finance_admin'],
      });
    });

    it('a refresh after the role is removed narrows the scope, and one after a permission is added does not widen it', async () => {
      const { tokens } = await signIn(financeConfig, financeScopes);
      expect(decodeJwt(tokens.access_token).scope).toBe('read:invoices');
      const refreshToken = tokens.refresh_token as string;

      await gatehouse().roles.setUserRoles(userId, []);
      const narrowed = await oidc.refreshTokenGrant(financeConfig, refreshToken, { resource: INVOICES });
      const narrowedClaims = decodeJwt(narrowed.access_token);
      expect(narrowedClaims.scope).toBeUndefined();
      expect(narrowedClaims).toMatchObject({ permissions: [], roles: [] });

      // The role comes back with more than the user consented to: the refresh gives back only what was granted.
      await gatehouse().roles.updateRole('finance_admin', {
        permissions: [
          { resource: INVOICES, scope: 'read:invoices' },
          { resource: INVOICES, scope: 'write:invoices' },
        ],
      });
      await gatehouse().roles.setUserRoles(userId, ['finance_admin']);
      const again = await oidc.refreshTokenGrant(financeConfig, narrowed.refresh_token as string, { resource: INVOICES });
      expect(decodeJwt(again.access_token)).toMatchObject({ scope: 'read:invoices', permissions: ['read:invoices', 'write:invoices'] });
      await gatehouse().roles.updateRole('finance_admin', { permissions: [{ resource: INVOICES, scope: 'read:invoices' }] });
    });

    it("the device flow carries the role's permission as scope too", async () => {
      const response = await oidc.initiateDeviceAuthorization(financeConfig, {
        scope: 'openid read:invoices write:invoices',
        resource: INVOICES,
      });
      await approveOnPages(response.verification_uri, response.user_code, { email: EMAIL });
      const { tokens } = await pollOnce(financeConfig, response.device_code);
      expect(decodeJwt(tokens?.access_token as string)).toMatchObject({
        aud: INVOICES,
        scope: 'read:invoices',
        permissions: ['read:invoices'],
      });
    });
  });

  describe('client grants bound every flow', () => {
    it('a client without roles in its scope gets no roles claim, and is refused the roles scope', async () => {
      const { tokens } = await signIn(context.config, { scope: 'openid items:read', resource: API });
      // The sample app registered `roles`: its user tokens carry them (RFC 9068 §2.2.3.1).
      expect(decodeJwt(tokens.access_token).roles).toEqual(['engineer']);

      const plain = await gatehouse().clients.registerClient({
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        api_access: [{ resource: API, scopes: ['items:read'] }],
      });
      const config = await discover(gatehouse(), plain);
      const signedIn = await signIn(config, { scope: 'openid profile items:read', resource: API });
      expect(decodeJwt(signedIn.tokens.access_token)).not.toHaveProperty('roles');
      expect(decodeJwt(signedIn.tokens.id_token as string)).not.toHaveProperty('roles');
      const refused = await new Browser().open(await authorizationUrl(config, { scope: 'openid roles' }), { stopAt: REDIRECT_URI });
      expect(new URL(refused.url).searchParams.get('error')).toBe('invalid_scope');
    });

    it('a client registered with only an API grant gets no profile or email claims', async () => {
      const apiOnly = await gatehouse().clients.registerClient({
        redirect_uris: [REDIRECT_URI],
        token_endpoint_auth_method: 'none',
        scope: 'openid',
        api_access: [{ resource: API, scopes: ['items:read'] }],
      });
      const config = await discover(gatehouse(), apiOnly);
      const refused = await new Browser().open(await authorizationUrl(config, { scope: 'openid email' }), { stopAt: REDIRECT_URI });
      expect(new URL(refused.url).searchParams.get('error')).toBe('invalid_scope');
      const { tokens } = await signIn(config, { scope: 'openid items:read', resource: API });
      expect(Object.keys(decodeJwt(tokens.id_token as string))).not.toEqual(expect.arrayContaining(['email']));
      expect(decodeJwt(tokens.id_token as string)).not.toHaveProperty('name');
    });

    it('authorization code: another API is invalid_target, even one defining the same scope name; an ungranted scope is invalid_scope', async () => {
      const browser = new Browser();
      const other = await browser.open(await authorizationUrl(context.config, { scope: 'openid items:read', resource: OTHER_ITEMS }), {
        stopAt: REDIRECT_URI,
      });
      expect(new URL(other.url).searchParams.get('error')).toBe('invalid_target');
      const invoices = await browser.open(await authorizationUrl(financeConfig, { scope: 'openid items:read', resource: INVOICES }), {
        stopAt: REDIRECT_URI,
      });
      expect(new URL(invoices.url).searchParams.get('error')).toBe('invalid_scope');
    });

    it('device: another API is invalid_target (the cross-API case) and an ungranted scope invalid_scope, at the device authorization endpoint', async () => {
      const deviceAuth = `${gatehouse().issuer}/device/auth`;
      const { client: tv } = await registerDeviceApp(gatehouse(), 'Items TV');
      const target = await postForm(deviceAuth, { client_id: tv.client_id, scope: 'openid items:read', resource: OTHER_ITEMS });
      expect(await target.json()).toMatchObject({ error: 'invalid_target' });
      const granted = await postForm(deviceAuth, { client_id: tv.client_id, scope: 'openid items:read', resource: API });
      expect(granted.status).toBe(200);
      const scope = await postForm(deviceAuth, { client_id: finance.client_id, scope: 'openid items:read', resource: INVOICES });
      expect(await scope.json()).toMatchObject({ error: 'invalid_scope' });
    });

    it('refresh: another API or a grant taken away is invalid_target, and a refused refresh loses nothing', async () => {
      const client = await gatehouse().clients.registerClient({
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
        scope: 'openid offline_access',
        api_access: [{ resource: API, scopes: ['items:read'] }],
      });
      const config = await discover(gatehouse(), client);
      const { tokens } = await signIn(config, { scope: 'openid offline_access items:read', resource: API, prompt: 'consent' });
      const refresh = async (refreshToken: string, resource: string) =>
        (
          await postForm(`${gatehouse().issuer}/token`, {
            grant_type: 'refresh_token',
            client_id: client.client_id,
            refresh_token: refreshToken,
            resource,
          })
        ).json() as Promise<Record<string, string>>;
      expect(await refresh(tokens.refresh_token as string, OTHER_ITEMS)).toMatchObject({ error: 'invalid_target' });
      // The refused refresh did not use the refresh token up.
      const next = await refresh(tokens.refresh_token as string, API);
      expect(next).toMatchObject({ scope: 'items:read', refresh_token: expect.any(String) });

      await gatehouse().clients.updateClient(client.client_id, { api_access: [] });
      await untilAuthorization(config, { scope: 'openid items:read', resource: API }, 'invalid_target');
      expect(await refresh(next.refresh_token as string, API)).toMatchObject({ error: 'invalid_target' });
      await gatehouse().clients.updateClient(client.client_id, { api_access: [{ resource: API, scopes: ['items:read'] }] });
      await untilAuthorization(config, { scope: 'openid items:read', resource: API }, null);
      expect(await refresh(next.refresh_token as string, API)).toMatchObject({ scope: 'items:read' });
    });

    it('refresh: a scope taken from the client grant leaves the next token, and asking for it is invalid_scope', async () => {
      const client = await gatehouse().clients.registerClient({
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
        scope: 'openid offline_access',
        api_access: [{ resource: API, scopes: ['items:read', 'items:write'] }],
      });
      const config = await discover(gatehouse(), client);
      const { tokens } = await signIn(config, { scope: 'openid offline_access items:read items:write', resource: API, prompt: 'consent' });
      expect(decodeJwt(tokens.access_token).scope).toBe('items:read items:write');
      await gatehouse().clients.updateClient(client.client_id, { api_access: [{ resource: API, scopes: ['items:read'] }] });
      await untilAuthorization(config, { scope: 'openid items:write', resource: API }, 'invalid_scope');
      const narrowed = await oidc.refreshTokenGrant(config, tokens.refresh_token as string, { resource: API });
      expect(decodeJwt(narrowed.access_token).scope).toBe('items:read');
      const asked = await postForm(`${gatehouse().issuer}/token`, {
        grant_type: 'refresh_token',
        client_id: client.client_id,
        refresh_token: narrowed.refresh_token as string,
        resource: API,
        scope: 'items:write',
      });
      expect(await asked.json()).toMatchObject({ error: 'invalid_scope' });
    });

    it('client credentials: the cross-API case is invalid_target; an ungranted scope invalid_scope; no grant, no token', async () => {
      const api = await gatehouse().clients.registerClient({
        grant_types: ['client_credentials'],
        api_access: [{ resource: API, scopes: ['items:read'] }],
        default_resource: API,
      });
      const basic: [string, string] = [api.client_id, api.client_secret as string];
      const token = `${gatehouse().issuer}/token`;
      const granted = await postForm(token, { grant_type: 'client_credentials', scope: 'items:read' }, basic);
      expect(await granted.json()).toMatchObject({ scope: 'items:read' });
      const cross = await postForm(token, { grant_type: 'client_credentials', resource: OTHER_ITEMS, scope: 'items:read' }, basic);
      expect(await cross.json()).toMatchObject({ error: 'invalid_target' });
      const wider = await postForm(token, { grant_type: 'client_credentials', resource: API, scope: 'items:write' }, basic);
      expect(await wider.json()).toMatchObject({ error: 'invalid_scope' });
      const none = await gatehouse().clients.registerClient({ grant_types: ['client_credentials'] });
      const refused = await postForm(token, { grant_type: 'client_credentials', resource: API }, [
        none.client_id,
        none.client_secret as string,
      ]);
      expect(await refused.json()).toMatchObject({ error: 'invalid_target' });
    });
  });
});

/**
 * Client changes reach the server's client cache by LISTEN/NOTIFY, a moment
 * after the commit: waits until an authorization request (which uses nothing
 * up) for `resource` and `scope` is refused with `error`, or not refused.
 */
async function untilAuthorization(config: oidc.Configuration, parameters: AuthorizationParameters, error: string | null): Promise<void> {
  const answer = async () =>
    new URL((await new Browser().open(await authorizationUrl(config, parameters), { stopAt: REDIRECT_URI })).url).searchParams.get('error');
  await expect.poll(answer, { timeout: 15_000, interval: 100 }).toBe(error);
}

/** An authorization request's URL for `config`, the same on every run (its code is never redeemed). */
async function authorizationUrl(config: oidc.Configuration, parameters: AuthorizationParameters): Promise<string> {
  return (await authorizationRequestWithPkce(config, parameters, RFC7636_EXAMPLE_CODE_VERIFIER)).url;
}
