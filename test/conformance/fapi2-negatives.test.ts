import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import { authorize, codeRequest, exchangeCode, pkcePair, postAs } from '../support/conformance.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { discover, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * Negative modules of the FAPI 2.0 Security Profile plan (fapi2spfinal/*),
 * as plain OAuth tests (CONFORMANCE.md, end): what a careful OP refuses.
 * Module ids are given without their `fapi2-security-profile-final-` prefix.
 */
describe('FAPI 2.0 negative tests, as plain OAuth', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let c1: RegisteredClient;
  let c2: RegisteredClient;
  let keyClient: RegisteredClient;
  let privateKey: CryptoKey;

  const codeFor = async (client: RegisteredClient, extra: Record<string, string> = {}) => {
    const { parameters, verifier } = await codeRequest(client, extra);
    const { callback } = await authorize(gatehouse, parameters);
    if (!callback?.searchParams.get('code')) throw new Error(`no code: ${callback}`);
    return { callback, verifier };
  };
  const errorOf = async (response: Response) => ((await response.json()) as { error: string }).error;
  const assertion = (claims: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: keyClient.client_id,
      sub: keyClient.client_id,
      aud: `${gatehouse.issuer}/token`,
      jti: randomUUID(),
      iat: now,
      exp: now + 60,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .sign(privateKey);
  };
  /** A code exchange by the private_key_jwt client with an assertion of these claims. */
  const exchangeWithAssertion = async (claims: Record<string, unknown>) => {
    const { callback, verifier } = await codeFor(keyClient);
    return fetch(`${gatehouse.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code') ?? '',
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(claims),
      }),
    });
  };

  beforeAll(async () => {
    const started = await startWithSampleApp();
    ({ gatehouse, databaseUrl } = started);
    c1 = started.sample.client;
    c2 = await gatehouse.clients.registerClient({ client_name: 'Other', redirect_uris: [REDIRECT_URI] });
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    keyClient = await gatehouse.clients.registerClient({
      client_name: 'Key client',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' } as { kty: 'RSA' }] },
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('refresh-token: refreshing without client authentication is refused', async () => {
    const { callback, verifier } = await codeFor(c1, { scope: 'openid offline_access', prompt: 'consent' });
    const tokens = await exchangeCode(gatehouse, c1, callback, verifier);
    const anonymous = await postAs(
      `${gatehouse.issuer}/token`,
      c1,
      { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string },
      'none',
    );
    expect(anonymous.status).toBe(401);
    expect(await errorOf(anonymous)).toBe('invalid_client');
  });

  it('ensure-pkce-code-verifier-required', async () => {
    const { callback } = await codeFor(c1);
    const tokens = await exchangeCode(gatehouse, c1, callback, undefined);
    expect(tokens.body.error).toBe('invalid_grant');
  });

  it('incorrect-pkce-code-verifier-rejected', async () => {
    const { callback } = await codeFor(c1);
    const tokens = await exchangeCode(gatehouse, c1, callback, (await pkcePair()).verifier);
    expect(tokens.body.error).toBe('invalid_grant');
  });

  const pushed = async (fields: Record<string, string>) =>
    postAs(`${gatehouse.issuer}/request`, c1, {
      client_id: c1.client_id,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT_URI,
      ...fields,
    });

  it('par-plain-pkce-rejected', async () => {
    const response = await pushed({ code_challenge: (await pkcePair()).verifier, code_challenge_method: 'plain' });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toBe('invalid_request');
  });

  it('par-ensure-pkce-required', async () => {
    const response = await pushed({});
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toBe('invalid_request');
  });

  it('ensure-authorization-code-is-bound-to-client', async () => {
    const { callback, verifier } = await codeFor(c1);
    const stolen = await exchangeCode(gatehouse, c2, callback, verifier);
    expect(stolen.body.error).toBe('invalid_grant');
  });

  it('attempt-reuse-authorization-code-after-one-second', async () => {
    const { callback, verifier } = await codeFor(c1);
    expect((await exchangeCode(gatehouse, c1, callback, verifier)).status).toBe(200);
    await sleep(1000);
    expect((await exchangeCode(gatehouse, c1, callback, verifier)).body.error).toBe('invalid_grant');
  });

  it('ensure-token-endpoint-fails-with-expired-auth-code', async () => {
    const { callback, verifier } = await codeFor(c1);
    // The code's lifetime is up (as 60 s later), without waiting for it.
    await gatehouse.prisma.$executeRawUnsafe(
      "UPDATE oidc_payloads SET payload = jsonb_set(payload, '{exp}', to_jsonb(extract(epoch from now())::int - 1)) WHERE model = 'AuthorizationCode' AND consumed_at IS NULL",
    );
    expect((await exchangeCode(gatehouse, c1, callback, verifier)).body.error).toBe('invalid_grant');
  });

  it('ensure-client-assertion-with-wrong-aud-fails', async () => {
    const response = await exchangeWithAssertion({ aud: 'https://somewhere-else.example/token' });
    expect(response.status).toBe(401);
    expect(await errorOf(response)).toBe('invalid_client');
  });

  it('ensure-client-assertion-with-exp-is-5-minutes-in-past-fails', async () => {
    const now = Math.floor(Date.now() / 1000);
    const response = await exchangeWithAssertion({ iat: now - 360, exp: now - 300 });
    expect(await errorOf(response)).toBe('invalid_client');
  });

  it('ensure-client-assertion-with-no-sub-fails', async () => {
    const response = await exchangeWithAssertion({ sub: undefined });
    expect(await errorOf(response)).toBe('invalid_client');
  });

  it('ensure-client-id-in-token-endpoint: a client_id that is not the authenticated client is refused', async () => {
    const { callback, verifier } = await codeFor(c1);
    const response = await postAs(`${gatehouse.issuer}/token`, c1, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: c2.client_id,
    });
    expect(response.status).toBe(400);
    expect(await errorOf(response)).toBe('invalid_request');
  });

  it('ensure-authorization-request-with-long-state', async () => {
    const state = 'x'.repeat(384);
    const { callback } = await codeFor(c1, { state });
    expect(callback.searchParams.get('state')).toBe(state);
  });

  it('ensure-authorization-request-without-state-success', async () => {
    const { parameters, verifier } = await codeRequest(c1);
    const { state: _none, ...withoutState } = parameters;
    const { callback } = await authorize(gatehouse, withoutState);
    expect(callback?.searchParams.has('state')).toBe(false);
    expect((await exchangeCode(gatehouse, c1, callback as URL, verifier)).status).toBe(200);
  });

  it('ensure-request-object-signature-algorithm-is-not-none (request objects are refused outright)', async () => {
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`;
    const { callback } = await authorize(gatehouse, (await codeRequest(c1, { request: unsigned })).parameters);
    expect(callback?.searchParams.get('error')).toBe('request_not_supported');
    expect(callback?.searchParams.has('code')).toBe(false);
  });

  it('ensure-matching-key-in-authorization-request: a code bound by dpop_jkt refuses another DPoP key', async () => {
    const config = await discover(gatehouse, c1);
    const bound = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const other = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const { verifier, challenge } = await pkcePair();
    const url = await oidc.buildAuthorizationUrlWithPAR(
      config,
      { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: challenge, code_challenge_method: 'S256' },
      { DPoP: bound },
    );
    const { callback } = await authorize(gatehouse, Object.fromEntries(url.searchParams));
    await expect(
      oidc.authorizationCodeGrant(config, callback as URL, { pkceCodeVerifier: verifier }, undefined, { DPoP: other }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('client assertion clock skew: nbf 8 s in the future is accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    const response = await exchangeWithAssertion({ nbf: now + 8, iat: now + 8 });
    expect(response.status).toBe(200);
  });

  it('client assertion clock skew: nbf more than 60 s in the future is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const response = await exchangeWithAssertion({ nbf: now + 70, iat: now + 70, exp: now + 130 });
    expect(await errorOf(response)).toBe('invalid_client');
  });

  it('user-rejects-authentication: cancel sends access_denied back', async () => {
    const { parameters } = await codeRequest(c1);
    const browser = new Browser();
    const url = new URL(`${gatehouse.issuer}/auth`);
    url.search = new URLSearchParams(parameters).toString();
    const login = await browser.open(url.toString(), { stopAt: REDIRECT_URI });
    const back = await browser.submit(login, '/abort', {}, { stopAt: REDIRECT_URI });
    const answer = new URL(back.url).searchParams;
    expect(answer.get('error')).toBe('access_denied');
    expect(answer.get('state')).toBe(parameters.state);
  });
});
