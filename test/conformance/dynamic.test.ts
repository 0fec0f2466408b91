import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientMetadataInput } from '../../src/clients/client-metadata.js';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser } from '../support/browser.js';
import { authorize, claimsOf, codeRequest, verifyDiscovery } from '../support/conformance.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * The conformance suite's Dynamic OP plan (oidcc-dynamic-certification-test-plan),
 * CONFORMANCE.md §1.3. Gatehouse offers no dynamic registration (RFC 7591
 * endpoint): operators register clients through the admin API or CLI, which
 * take the same metadata. The plan's modules run against clients registered
 * that way; what Gatehouse does not support is checked as a documented refusal.
 */
describe('OIDC Dynamic OP plan', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let keyClient: RegisteredClient;
  let privateKey: CryptoKey;
  let publicJwk: JWK;

  const register = (metadata: Record<string, unknown>) => gatehouse.clients.registerClient(metadata as ClientMetadataInput);
  const assertion = (client: RegisteredClient, key: CryptoKey, kid: string, claims: Record<string, unknown> = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: client.client_id,
      sub: client.client_id,
      aud: `${gatehouse.issuer}/token`,
      jti: randomUUID(),
      iat: now,
      exp: now + 60,
      ...claims,
    })
      .setProtectedHeader({ alg: 'RS256', kid })
      .sign(key);
  };
  const tokenWithAssertion = async (fields: Record<string, string>, clientAssertion: string) => {
    const response = await fetch(`${gatehouse.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, string> };
  };
  /** A sign-in to a code for the private_key_jwt client. */
  const codeFor = async (client: RegisteredClient, extra: Record<string, string> = {}) => {
    const { parameters, verifier } = await codeRequest(client, extra);
    const { callback } = await authorize(gatehouse, parameters);
    return { code: callback?.searchParams.get('code') ?? '', verifier };
  };

  beforeAll(async () => {
    ({ gatehouse, databaseUrl } = await startWithSampleApp());
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'rp-key-1', alg: 'RS256', use: 'sig' };
    keyClient = await register({
      client_name: 'Key RP',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [publicJwk] },
    });
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('offers no dynamic registration endpoint (documented: register through the admin API)', async () => {
    const metadata = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).not.toHaveProperty('registration_endpoint');
    const response = await fetch(`${gatehouse.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [REDIRECT_URI] }),
    });
    expect(response.status).toBe(404);
  });

  it('oidcc-idtoken-rs256', async () => {
    const { code, verifier } = await codeFor(keyClient);
    const tokens = await tokenWithAssertion(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier },
      await assertion(keyClient, privateKey, 'rp-key-1'),
    );
    expect(tokens.status).toBe(200);
    expect(JSON.parse(Buffer.from((tokens.body.id_token ?? '').split('.')[0] ?? '', 'base64url').toString())).toMatchObject({
      alg: 'RS256',
    });
  });

  it('oidcc-idtoken-unsigned (refused at registration)', async () => {
    await expect(register({ redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: 'none' })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_client_metadata',
    });
  });

  it('oidcc-userinfo-rs256 (signed userinfo is not offered: refused at registration)', async () => {
    await expect(register({ redirect_uris: [REDIRECT_URI], userinfo_signed_response_alg: 'RS256' })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_client_metadata',
    });
    const metadata = (await (await fetch(`${gatehouse.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata).not.toHaveProperty('userinfo_signing_alg_values_supported');
  });

  it('oidcc-ensure-redirect-uri-in-authorization-request', async () => {
    const twoUris = await register({ redirect_uris: [REDIRECT_URI, 'http://127.0.0.1:8765/other'] });
    const { parameters } = await codeRequest(twoUris);
    const { redirect_uri: _omitted, ...withoutRedirectUri } = parameters;
    const { callback, page } = await authorize(gatehouse, withoutRedirectUri);
    expect(callback).toBeUndefined();
    expect(page?.status).toBe(400);
  });

  describe('redirect URIs with a query', () => {
    const WITH_QUERY = 'http://127.0.0.1:8765/callback?foo=bar';
    let queryClient: RegisteredClient;
    beforeAll(async () => {
      queryClient = await register({ redirect_uris: [WITH_QUERY, REDIRECT_URI] });
    });

    it('oidcc-redirect-uri-query-OK', async () => {
      const { parameters } = await codeRequest(queryClient, {}, WITH_QUERY);
      const { callback } = await authorize(gatehouse, parameters, { redirectUri: 'http://127.0.0.1:8765/callback' });
      expect(callback?.searchParams.get('foo')).toBe('bar');
      expect(callback?.searchParams.get('code')).toBeTruthy();
    });

    it('oidcc-redirect-uri-query-mismatch', async () => {
      const { parameters } = await codeRequest(queryClient, {}, 'http://127.0.0.1:8765/callback?foo=baz');
      const { callback, page } = await authorize(gatehouse, parameters, { redirectUri: 'http://127.0.0.1:8765/callback' });
      expect(callback).toBeUndefined();
      expect(page?.status).toBe(400);
    });

    it('oidcc-redirect-uri-query-added', async () => {
      const { parameters } = await codeRequest(queryClient, {}, `${REDIRECT_URI}?added=1`);
      const { callback, page } = await authorize(gatehouse, parameters, { redirectUri: 'http://127.0.0.1:8765/callback' });
      expect(callback).toBeUndefined();
      expect(page?.status).toBe(400);
    });
  });

  it('oidcc-redirect-uri-regfrag', async () => {
    await expect(register({ redirect_uris: [`${REDIRECT_URI}#fragment`] })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_redirect_uri',
    });
  });

  it('oidcc-discovery-endpoint-verification', async () => {
    await verifyDiscovery(gatehouse.issuer);
  });

  it('oidcc-server', async () => {
    const { code, verifier } = await codeFor(keyClient);
    const tokens = await tokenWithAssertion(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier },
      await assertion(keyClient, privateKey, 'rp-key-1'),
    );
    expect(tokens.status).toBe(200);
    expect(claimsOf(tokens.body.id_token ?? '')).toMatchObject({ iss: gatehouse.issuer, aud: keyClient.client_id });
  });

  it('oidcc-registration-logo-uri, -policy-uri and -tos-uri (not kept: refused at registration; client names are escaped on pages)', async () => {
    for (const field of ['logo_uri', 'policy_uri', 'tos_uri']) {
      await expect(register({ redirect_uris: [REDIRECT_URI], [field]: 'https://rp.example/x' }), field).rejects.toMatchObject({
        status: 400,
      });
    }
    const named = await register({ client_name: '<img src=x onerror=alert(1)>', redirect_uris: [REDIRECT_URI] });
    const { parameters } = await codeRequest(named);
    const url = new URL(`${gatehouse.issuer}/auth`);
    url.search = new URLSearchParams(parameters).toString();
    const page = await new Browser().open(url.toString());
    expect(page.html).not.toContain('<img src=x');
    expect(page.html).toContain('&lt;img src');
  });

  it('oidcc-registration-jwks-uri (jwks_uri must be https; an inline jwks authenticates the same way)', async () => {
    await expect(
      register({ redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://127.0.0.1:9/jwks' }),
    ).rejects.toMatchObject({ status: 400 });
    const withHttps = await register({
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://rp.example/jwks.json',
    });
    expect(withHttps.jwks_uri).toBe('https://rp.example/jwks.json');
  });

  it('oidcc-registration-sector-uri and oidcc-registration-sector-bad (pairwise subjects are not offered: refused at registration)', async () => {
    await expect(
      register({ redirect_uris: [REDIRECT_URI], sector_identifier_uri: 'https://rp.example/sector.json' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(register({ redirect_uris: [REDIRECT_URI], subject_type: 'pairwise' })).rejects.toMatchObject({ status: 400 });
  });

  it('oidcc-server-rotate-keys', async () => {
    const kids = async () =>
      ((await (await fetch(`${gatehouse.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid);
    const [oldCurrent] = await gatehouse.keys.list();
    // The next key must have been published for the lead time before it may sign.
    await gatehouse.prisma.$executeRawUnsafe("UPDATE signing_keys SET created_at = created_at - interval '2 days' WHERE status = 'next'");
    await gatehouse.keys.rotate();
    const [newCurrent] = await gatehouse.keys.list();
    expect(newCurrent?.kid).not.toBe(oldCurrent?.kid);
    await expect.poll(kids, { timeout: 20_000 }).toEqual(expect.arrayContaining([newCurrent?.kid, oldCurrent?.kid]));
  });

  it('oidcc-refresh-token-rp-key-rotation', async () => {
    const { code, verifier } = await codeFor(keyClient, { scope: 'openid offline_access', prompt: 'consent' });
    const first = await tokenWithAssertion(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier },
      await assertion(keyClient, privateKey, 'rp-key-1'),
    );
    expect(first.body.refresh_token).toBeTruthy();
    // The RP rotates its key: a new kid replaces the old one in its registration.
    const pair = await generateKeyPair('RS256', { extractable: true });
    const newJwk = { ...(await exportJWK(pair.publicKey)), kid: 'rp-key-2', alg: 'RS256', use: 'sig' };
    await gatehouse.clients.updateClient(keyClient.client_id, { jwks: { keys: [newJwk as { kty: 'RSA' }] } });
    let refreshToken = first.body.refresh_token as string;
    await expect
      .poll(
        async () => {
          const refreshed = await tokenWithAssertion(
            { grant_type: 'refresh_token', refresh_token: refreshToken },
            await assertion(keyClient, pair.privateKey, 'rp-key-2'),
          );
          if (refreshed.body.refresh_token) refreshToken = refreshed.body.refresh_token;
          return refreshed.status;
        },
        { timeout: 20_000 },
      )
      .toBe(200);
    keyClient = { ...keyClient, jwks: { keys: [newJwk as { kty: 'RSA' }] } };
    privateKey = pair.privateKey;
    publicJwk = newJwk;
  });

  it('oidcc-request-uri-unsigned and oidcc-request-uri-signed-rs256 (request_uri other than PAR is refused)', async () => {
    for (const requestUri of ['https://rp.example/unsigned.jwt', 'https://rp.example/signed.jwt']) {
      const { parameters } = await codeRequest(keyClient, { request_uri: requestUri });
      const { callback, page } = await authorize(gatehouse, parameters);
      expect(callback?.searchParams.get('error') ?? page?.html).toMatch(/request_uri_not_supported|invalid_request_uri/);
    }
  });

  it('oidcc-ensure-request-object-with-redirect-uri (request objects are refused)', async () => {
    const signed = await new SignJWT({ client_id: keyClient.client_id, redirect_uri: 'https://attacker.example/cb' })
      .setProtectedHeader({ alg: 'RS256', kid: publicJwk.kid as string })
      .sign(privateKey);
    const { callback } = await authorize(gatehouse, (await codeRequest(keyClient, { request: signed })).parameters);
    expect(callback?.origin).toBe(new URL(REDIRECT_URI).origin);
    expect(callback?.searchParams.get('error')).toBe('request_not_supported');
  });

  it('oidcc-refresh-token', async () => {
    const { code, verifier } = await codeFor(keyClient, { scope: 'openid offline_access', prompt: 'consent' });
    const kid = publicJwk.kid as string;
    const first = await tokenWithAssertion(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier },
      await assertion(keyClient, privateKey, kid),
    );
    const refreshed = await tokenWithAssertion(
      { grant_type: 'refresh_token', refresh_token: first.body.refresh_token ?? '' },
      await assertion(keyClient, privateKey, kid),
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.access_token).toBeTruthy();
  });

  it('oidcc-ensure-client-assertion-with-iss-aud-succeeds', async () => {
    const { code, verifier } = await codeFor(keyClient);
    const tokens = await tokenWithAssertion(
      { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier },
      await assertion(keyClient, privateKey, publicJwk.kid as string, { aud: gatehouse.issuer }),
    );
    expect(tokens.status).toBe(200);
  });

  it('oidcc-ensure-request-without-nonce-fails (not applicable: only response_type=code, other types are refused)', async () => {
    const { parameters } = await codeRequest(keyClient, { response_type: 'id_token' });
    const { callback } = await authorize(gatehouse, parameters);
    expect(callback?.searchParams.get('error') ?? callback?.hash).toMatch(/unsupported_response_type|unauthorized_client/);
  });
});
