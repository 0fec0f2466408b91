import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { protocolMethodsFor } from '../../src/oidc/protocol-routes.js';
import { adminTokenForClient } from '../support/admin.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { Browser } from '../support/browser.js';
import { PASSWORD, REDIRECT_URI, startWithSampleApp, stopAndDrop } from '../support/sample-app.js';

const ADMIN_CLIENT = {
  GATEHOUSE_ADMIN_CLIENT_ID: 'fuzz-robot',
  GATEHOUSE_ADMIN_CLIENT_SECRET: 'a-long-admin-client-secret-for-fuzzing-0123',
};

/** One malformed request: what it is, and how to send it. */
interface Probe {
  readonly name: string;
  readonly method: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string | Blob;
}

// The classes of input that once reached Postgres or oidc-provider's internals as a 500.
const NUL = '%00';
const LONE_SURROGATE_JSON = '"\\ud800"';
const NUL_JSON = '"a\\u0000b"';

const form = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([name, value]) => `${name}=${value}`)
    .join('&');

/** Every protocol endpoint, with each of its parameters in turn carrying a NUL byte. */
function protocolProbes(clientId: string): Probe[] {
  const authorize = {
    client_id: clientId,
    response_type: 'code',
    redirect_uri: encodeURIComponent(REDIRECT_URI),
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    resource: encodeURIComponent('https://api.example.test/'),
  };
  const endpoints: { method: 'GET' | 'POST'; path: string; fields: Record<string, string> }[] = [
    { method: 'GET', path: '/auth', fields: authorize },
    {
      method: 'POST',
      path: '/token',
      fields: { grant_type: 'client_credentials', client_id: clientId, resource: 'https%3A%2F%2Fapi.example.test%2F' },
    },
    {
      method: 'POST',
      path: '/token',
      fields: {
        grant_type: 'authorization_code',
        client_id: clientId,
        code: 'abc',
        redirect_uri: encodeURIComponent(REDIRECT_URI),
        code_verifier: 'a'.repeat(43),
      },
    },
    { method: 'POST', path: '/token', fields: { grant_type: 'refresh_token', client_id: clientId, refresh_token: 'abc' } },
    {
      method: 'POST',
      path: '/token',
      fields: { grant_type: 'urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code', client_id: clientId, device_code: 'abc' },
    },
    {
      method: 'POST',
      path: '/device/auth',
      fields: { client_id: clientId, scope: 'openid', resource: 'https%3A%2F%2Fapi.example.test%2F' },
    },
    {
      method: 'GET',
      path: '/session/end',
      fields: { client_id: clientId, post_logout_redirect_uri: 'http%3A%2F%2F127.0.0.1%3A8765%2Fsigned-out', id_token_hint: 'x.y.z' },
    },
    { method: 'POST', path: '/session/end/confirm', fields: { xsrf: 'abc', logout: 'yes' } },
    { method: 'POST', path: '/token/introspection', fields: { client_id: clientId, token: 'abc', token_type_hint: 'access_token' } },
    { method: 'POST', path: '/token/revocation', fields: { client_id: clientId, token: 'abc' } },
    { method: 'GET', path: '/me', fields: { access_token: 'abc' } },
    { method: 'GET', path: '/device', fields: { user_code: 'WDJB-MJHT' } },
    { method: 'POST', path: '/device', fields: { xsrf: 'abc', user_code: 'WDJB-MJHT' } },
  ];
  const probes: Probe[] = [];
  for (const { method, path, fields } of endpoints) {
    for (const name of Object.keys(fields)) {
      for (const [kind, poison] of [
        ['NUL', NUL],
        ['a NUL-only value', NUL],
        ['lone surrogate bytes', '%ED%A0%80'],
      ] as const) {
        const value = kind === 'NUL' ? `${fields[name]}${poison}` : poison;
        const encoded = form({ ...fields, [name]: value });
        probes.push(
          method === 'GET'
            ? { name: `${kind} in ${name}`, method, path: `${path}?${encoded}` }
            : { name: `${kind} in ${name}`, method, path, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encoded },
        );
      }
    }
  }
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
  for (const path of ['/token', '/device/auth', '/token/introspection', '/token/revocation']) {
    probes.push(
      {
        name: 'a body that is not gzip, labelled gzip',
        method: 'POST',
        path,
        headers: { ...formHeaders, 'content-encoding': 'gzip' },
        body: `client_id=${clientId}`,
      },
      { name: 'a JSON body', method: 'POST', path, headers: { 'content-type': 'application/json' }, body: `{"client_id":"${clientId}"}` },
      { name: 'a body over the engine limit', method: 'POST', path, headers: formHeaders, body: `client_id=${'a'.repeat(60 * 1024)}` },
      {
        name: 'a repeated parameter',
        method: 'POST',
        path,
        headers: formHeaders,
        body: `client_id=${clientId}&client_id=${clientId}${NUL}`,
      },
    );
  }
  return probes;
}

/** The interaction and device pages, reached with a NUL in the path, the form, and unknown session cookies. */
function pageProbes(): Probe[] {
  const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };
  const unknownSession = { cookie: '_session=unknown-session-id; _session.legacy=unknown-session-id' };
  return [
    { name: 'NUL in an interaction uid', method: 'GET', path: `/interaction/${NUL}` },
    {
      name: 'NUL in the login email',
      method: 'POST',
      path: '/interaction/abc/login',
      headers: formHeaders,
      body: `email=a${NUL}%40example.test&password=x&csrf=y`,
    },
    { name: 'NUL in the consent form', method: 'POST', path: '/interaction/abc/confirm', headers: formHeaders, body: `csrf=${NUL}` },
    {
      name: 'a non-gzip body labelled gzip at the login form',
      method: 'POST',
      path: '/interaction/abc/login',
      headers: { ...formHeaders, 'content-encoding': 'gzip' },
      body: 'email=a&password=b',
    },
    {
      name: 'an unsupported encoding at the login form',
      method: 'POST',
      path: '/interaction/abc/login',
      headers: { ...formHeaders, 'content-encoding': 'br-nonsense' },
      body: 'email=a',
    },
    { name: 'a device page with an unknown session cookie', method: 'GET', path: '/device/anything', headers: unknownSession },
    { name: 'the device code page with an unknown session cookie', method: 'GET', path: '/device', headers: unknownSession },
    {
      name: 'a device code form with an unknown session cookie',
      method: 'POST',
      path: '/device',
      headers: { ...formHeaders, ...unknownSession },
      body: 'xsrf=abc&user_code=WDJBMJHT',
    },
    {
      name: 'a device code form with an unknown session cookie and confirm',
      method: 'POST',
      path: '/device',
      headers: { ...formHeaders, ...unknownSession },
      body: 'xsrf=abc&user_code=WDJBMJHT&confirm=yes',
    },
    {
      name: 'a device code form with an unknown session cookie and abort',
      method: 'POST',
      path: '/device',
      headers: { ...formHeaders, ...unknownSession },
      body: 'xsrf=abc&user_code=WDJBMJHT&abort=yes',
    },
    { name: 'the device resume path with an unknown session cookie', method: 'GET', path: '/device/abc/def/', headers: unknownSession },
    {
      name: 'the logout confirmation with an unknown session cookie',
      method: 'POST',
      path: '/session/end/confirm',
      headers: { ...formHeaders, ...unknownSession },
      body: 'xsrf=abc&logout=yes',
    },
    { name: 'the authorization endpoint with an unknown session cookie', method: 'GET', path: '/auth', headers: unknownSession },
    {
      name: 'NUL in the forgot-password email',
      method: 'POST',
      path: '/forgot-password',
      headers: formHeaders,
      body: `email=a${NUL}%40example.test&interaction=${NUL}`,
    },
    { name: 'NUL in a reset link', method: 'GET', path: `/reset-password?token=${NUL}` },
    { name: 'NUL in the reset form', method: 'POST', path: '/reset-password', headers: formHeaders, body: `token=${NUL}&password=${NUL}` },
    { name: 'NUL in a verification link', method: 'GET', path: `/verify-email?token=a${NUL}` },
    { name: 'NUL in the verification form', method: 'POST', path: '/verify-email', headers: formHeaders, body: `token=${NUL}` },
    { name: 'the account page with an unknown session cookie', method: 'GET', path: '/account', headers: unknownSession },
    {
      name: 'an account form with an unknown session cookie',
      method: 'POST',
      path: '/account/password',
      headers: { ...formHeaders, ...unknownSession },
      body: `csrf=${NUL}&current=${NUL}&password=x`,
    },
    { name: 'the registration page when registration is off', method: 'GET', path: '/interaction/abc/register' },
  ];
}

/** Unknown routes and methods everywhere. */
function routingProbes(): Probe[] {
  return [
    { name: 'PUT /token', method: 'PUT', path: '/token' },
    { name: 'DELETE /auth', method: 'DELETE', path: '/auth' },
    {
      name: 'POST /session/end',
      method: 'POST',
      path: '/session/end',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    },
    { name: 'PATCH /jwks', method: 'PATCH', path: '/jwks' },
    { name: 'an unknown path', method: 'GET', path: '/no-such-page' },
    { name: 'an unknown path with a NUL', method: 'GET', path: `/no-such-page${NUL}` },
    { name: 'PUT /healthz', method: 'PUT', path: '/healthz' },
    { name: 'DELETE an interaction', method: 'DELETE', path: '/interaction/abc' },
    { name: 'PUT /admin/clients', method: 'PUT', path: '/admin/clients' },
    { name: 'an unknown admin path', method: 'GET', path: '/admin/nothing' },
  ];
}

/** Every admin operation, with poisoned ids, queries and bodies. */
function adminProbes(token: string): Probe[] {
  const auth = { authorization: `Bearer ${token}` };
  const json = { ...auth, 'content-type': 'application/json' };
  const probes: Probe[] = [];
  for (const collection of ['clients', 'users', 'resources']) {
    probes.push(
      { name: `cursor=AA at GET /admin/${collection}`, method: 'GET', path: `/admin/${collection}?cursor=AA`, headers: auth },
      { name: `a NUL cursor at GET /admin/${collection}`, method: 'GET', path: `/admin/${collection}?cursor=${NUL}`, headers: auth },
      { name: `a NUL id at GET /admin/${collection}/:id`, method: 'GET', path: `/admin/${collection}/a${NUL}b`, headers: auth },
      {
        name: `a NUL id at PATCH /admin/${collection}/:id`,
        method: 'PATCH',
        path: `/admin/${collection}/a${NUL}b`,
        headers: json,
        body: '{}',
      },
      { name: `a NUL id at DELETE /admin/${collection}/:id`, method: 'DELETE', path: `/admin/${collection}/a${NUL}b`, headers: auth },
      {
        name: `bad gzip at POST /admin/${collection}`,
        method: 'POST',
        path: `/admin/${collection}`,
        headers: { ...json, 'content-encoding': 'gzip' },
        body: '{"name":"x"}',
      },
      {
        name: `an unsupported encoding at POST /admin/${collection}`,
        method: 'POST',
        path: `/admin/${collection}`,
        headers: { ...json, 'content-encoding': 'compress' },
        body: '{"name":"x"}',
      },
      {
        name: `gzip that inflates to garbage at POST /admin/${collection}`,
        method: 'POST',
        path: `/admin/${collection}`,
        headers: { ...json, 'content-encoding': 'gzip' },
        body: new Blob([gzipSync('{not json')]),
      },
      {
        name: `a JSON array body at POST /admin/${collection}`,
        method: 'POST',
        path: `/admin/${collection}`,
        headers: json,
        body: '[1,2]',
      },
      { name: `malformed JSON at POST /admin/${collection}`, method: 'POST', path: `/admin/${collection}`, headers: json, body: '{"a":' },
    );
  }
  const bodies: Record<string, Record<string, string>> = {
    clients: {
      client_name: 'x',
      redirect_uris: '["https://a.example.test/cb"]',
      client_id: '"fuzzed"',
      scope: '"openid"',
      default_resource: '"https://api.example.test/"',
    },
    users: { email: '"a@example.test"', password: '"a long enough password"', name: '"x"', roles: '["ops"]' },
    resources: { identifier: '"https://fuzz.example.test/"', name: '"Fuzz"', scopes: '["fuzz:read"]' },
  };
  for (const [collection, fields] of Object.entries(bodies)) {
    for (const name of Object.keys(fields)) {
      for (const [kind, poison] of [
        ['NUL', NUL_JSON],
        ['lone surrogate', LONE_SURROGATE_JSON],
      ] as const) {
        const value = fields[name]?.startsWith('[') ? `[${poison}]` : poison;
        const entries = Object.entries({ ...fields, [name]: value }).map(
          ([key, raw]) => `"${key}":${raw.startsWith('"') || raw.startsWith('[') ? raw : `"${raw}"`}`,
        );
        const body = `{${entries.join(',')}}`;
        probes.push({
          name: `${kind} in ${name} at POST /admin/${collection}`,
          method: 'POST',
          path: `/admin/${collection}`,
          headers: json,
          body,
        });
        probes.push({
          name: `${kind} in ${name} at PATCH /admin/${collection}/:id`,
          method: 'PATCH',
          path: `/admin/${collection}/00000000-0000-4000-8000-000000000000`,
          headers: json,
          body,
        });
      }
      probes.push({
        name: `a NUL key at POST /admin/${collection}`,
        method: 'POST',
        path: `/admin/${collection}`,
        headers: json,
        body: `{${NUL_JSON}:1}`,
      });
    }
  }
  probes.push(
    { name: 'a NUL in the users email filter', method: 'GET', path: `/admin/users?email=a${NUL}`, headers: auth },
    { name: 'a NUL in the events type filter', method: 'GET', path: `/admin/events?type=${NUL}`, headers: auth },
    { name: 'cursor=AA at GET /admin/events', method: 'GET', path: '/admin/events?cursor=AA', headers: auth },
    { name: 'a NUL client id at POST /admin/clients/:id/secret', method: 'POST', path: `/admin/clients/a${NUL}/secret`, headers: auth },
    { name: 'a NUL kid at POST /admin/keys/:kid/revoke', method: 'POST', path: `/admin/keys/a${NUL}/revoke`, headers: auth },
    { name: 'a lone surrogate kid at POST /admin/keys/:kid/revoke', method: 'POST', path: '/admin/keys/%ED%A0%80/revoke', headers: auth },
    {
      name: 'a bad percent-encoding kid at POST /admin/keys/:kid/revoke',
      method: 'POST',
      path: '/admin/keys/%E0%A4%A/revoke',
      headers: auth,
    },
    {
      name: 'a 10,000-character kid at POST /admin/keys/:kid/revoke',
      method: 'POST',
      path: `/admin/keys/${'k'.repeat(10_000)}/revoke`,
      headers: auth,
    },
    {
      name: 'a role body with a require_mfa string at POST /admin/roles',
      method: 'POST',
      path: '/admin/roles',
      headers: json,
      body: '{"name":"fuzzrole","require_mfa":"true"}',
    },
    {
      name: 'a NUL user id at POST /admin/users/:id/revoke-sessions',
      method: 'POST',
      path: `/admin/users/a${NUL}/revoke-sessions`,
      headers: auth,
    },
    { name: 'a NUL in the Authorization header token', method: 'GET', path: '/admin/clients', headers: { authorization: 'Bearer a.b.c' } },
  );
  return probes;
}

/**
 * What a clean answer looks like: below 500, nothing internal in the body, and
 * an error as `{error, error_description}` JSON or the HTML error page.
 * Returns what is wrong, or undefined.
 */
async function problemWith(gatehouse: TestGatehouse, probe: Probe): Promise<string | undefined> {
  const response = await fetch(`${gatehouse.url}${probe.path}`, {
    method: probe.method,
    headers: probe.headers,
    body: probe.body,
    redirect: 'manual',
  });
  const text = await response.text();
  const where = `${probe.name}: ${probe.method} ${probe.path} → ${response.status} ${text.slice(0, 200)}`;
  if (response.status >= 500) return where;
  if (/22021|22P05|invalid byte sequence|prisma|\n\s+at \S+ \(|server_error/i.test(text)) return `leaks internals: ${where}`;
  if (response.status < 400) return undefined;
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    const body = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    return typeof body.error === 'string' && typeof body.error_description === 'string'
      ? undefined
      : `not {error, error_description}: ${where}`;
  }
  return type.includes('text/html') && text.includes('<main class="card">')
    ? undefined
    : `neither JSON nor the error page (${type}): ${where}`;
}

async function problemsWith(gatehouse: TestGatehouse, probes: Probe[]): Promise<string[]> {
  const problems: string[] = [];
  for (const probe of probes) {
    const problem = await problemWith(gatehouse, probe);
    if (problem) problems.push(problem);
  }
  return problems;
}

describe('malformed requests to every endpoint', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;
  let clientId: string;
  let token: string;

  beforeAll(async () => {
    const started = await startWithSampleApp(ADMIN_CLIENT);
    ({ gatehouse, databaseUrl } = started);
    clientId = started.sample.client.client_id;
    token = await adminTokenForClient(gatehouse, ADMIN_CLIENT.GATEHOUSE_ADMIN_CLIENT_ID, ADMIN_CLIENT.GATEHOUSE_ADMIN_CLIENT_SECRET);
  });
  afterAll(() => stopAndDrop(gatehouse, databaseUrl));

  it('protocol endpoints answer a NUL byte in any parameter with a clean 4xx', async () => {
    expect(await problemsWith(gatehouse, protocolProbes(clientId))).toEqual([]);
  });

  it('interaction and device pages answer bad forms, encodings and unknown sessions with a clean 4xx', async () => {
    expect(await problemsWith(gatehouse, pageProbes())).toEqual([]);
  });

  it('unknown routes and methods get the same error shape as everything else', async () => {
    expect(await problemsWith(gatehouse, routingProbes())).toEqual([]);
  });

  it('the admin API answers poisoned ids, cursors, encodings and bodies with a clean 4xx', async () => {
    expect(await problemsWith(gatehouse, adminProbes(token))).toEqual([]);
  });

  const send = async (method: string, path: string, init: { headers?: Record<string, string>; body?: string | Blob } = {}) => {
    const response = await fetch(`${gatehouse.url}${path}`, { method, redirect: 'manual', ...init });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
  };

  it('a NUL byte in client_id is an unknown client, and in resource an unknown API, with the RFC codes', async () => {
    const token = await send('POST', '/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&client_id=${clientId}${NUL}`,
    });
    expect(token.status).toBe(401);
    expect(token.json()).toMatchObject({ error: 'invalid_client' });
    const authorize = await send(
      'GET',
      `/auth?client_id=${clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&resource=https%3A%2F%2Fapi.example.test%2F${NUL}`,
    );
    // RFC 8707 §2: invalid_target, sent back to the (valid) redirect URI.
    expect(authorize.status).toBe(303);
    expect(new URL(authorize.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_target');
  });

  it('a NUL byte in the login email is a failed sign-in like any other, not a 500', async () => {
    const browser = new Browser();
    const url = `${gatehouse.issuer}/auth?client_id=${clientId}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`;
    const login = await browser.open(url);
    expect(login.html).toContain('name="password"');
    const answer = await browser.submit(login, '/login', { email: 'ada\u0000@example.test', password: PASSWORD });
    expect(answer.status).toBe(401);
    expect(answer.html).toContain('Incorrect email or password.');
    expect(answer.html).not.toContain('\u0000');
  });

  it('refuses NUL and lone surrogates in admin bodies as 400, naming the field', async () => {
    const json = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const surrogate = await send('POST', '/admin/users', {
      headers: json,
      body: `{"email":"s@example.test","password":"a long enough password","name":${LONE_SURROGATE_JSON}}`,
    });
    expect(surrogate.status).toBe(400);
    expect(surrogate.json()).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/^name: /) });
    const nul = await send('POST', '/admin/clients', {
      headers: json,
      body: `{"client_name":${NUL_JSON},"redirect_uris":["https://a.example.test/cb"]}`,
    });
    expect(nul.status).toBe(400);
    expect(nul.json()).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/^client_name: /) });
    expect((await gatehouse.users.listUsers({ email: 's@example.test', limit: 1 })).users).toEqual([]);
  });

  it('answers a bad cursor with 400, a body that is not gzip with 400 and an unknown encoding with 415', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect(await send('GET', '/admin/clients?cursor=AA', { headers: auth }).then((r) => [r.status, r.json().error])).toEqual([
      400,
      'invalid_request',
    ]);
    const gzip = { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' };
    expect(await send('POST', '/admin/resources', { headers: gzip, body: '{"name":"x"}' }).then((r) => [r.status, r.json().error])).toEqual(
      [400, 'invalid_request'],
    );
    const compress = { ...auth, 'content-type': 'application/json', 'content-encoding': 'compress' };
    expect((await send('POST', '/admin/resources', { headers: compress, body: '{"name":"x"}' })).status).toBe(415);
    const page = await send('POST', '/interaction/abc/login', {
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' },
      body: 'email=a',
    });
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toContain('text/html');
  });

  it('answers a wrong method with 405 and Allow, an unknown path with 404, as JSON or the error page', async () => {
    const put = await send('PUT', '/token');
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST, OPTIONS');
    expect(put.json()).toMatchObject({ error: 'method_not_allowed' });
    // (POST /session/end itself is served: OIDC RP-Initiated Logout §2.)
    const logout = await send('POST', '/session/end/success', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'x=1',
    });
    expect([logout.status, logout.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const admin = await send('DELETE', '/admin/clients', { headers: { authorization: `Bearer ${token}` } });
    expect(admin.status).toBe(405);
    expect(admin.headers.get('allow')?.split(', ').sort()).toEqual(['GET', 'HEAD', 'POST']);
    expect(admin.json()).toMatchObject({ error: 'method_not_allowed' });
    expect((await send('PUT', '/healthz')).headers.get('allow')).toBe('HEAD, GET');
    const unknown = await send('GET', '/no-such-page');
    expect([unknown.status, unknown.json().error]).toEqual([404, 'not_found']);
    const page = await send('GET', '/no-such-page', { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    expect(page.status).toBe(404);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.text).toContain('not_found');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
  });

  it('shows a device page, not a 500, to a browser whose session cookie is unknown', async () => {
    const cookie = { cookie: '_session=unknown-session-id; _session.legacy=unknown-session-id' };
    const resume = await send('GET', '/device/anything', { headers: cookie });
    expect(resume.status).toBeGreaterThanOrEqual(400);
    expect(resume.status).toBeLessThan(500);
    expect(resume.text).toContain('>Enter a code</a>');
    expect(resume.text).not.toContain('name="xsrf"');
    const post = await send('POST', '/device', {
      headers: { ...cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'xsrf=abc&user_code=WDJBMJHT',
    });
    expect(post.status).toBe(403);
    expect(post.text).toContain('The form expired');
  });

  it('oidc-provider serves exactly the methods protocol-routes.ts lists for it (the 405 answers rely on that list)', async () => {
    const paths = [
      '/auth',
      '/auth/some-uid',
      '/me',
      '/token',
      '/token/introspection',
      '/token/revocation',
      '/jwks',
      '/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server',
      '/session/end',
      '/session/end/success',
      '/session/end/confirm',
      '/device',
      '/device/auth',
      '/device/some-uid',
    ];
    const mismatches: string[] = [];
    for (const path of paths) {
      const listed = protocolMethodsFor(path);
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const headers: Record<string, string> = {};
        if (method === 'OPTIONS') Object.assign(headers, { origin: 'https://app.example.test', 'access-control-request-method': 'POST' });
        if (method === 'POST') headers['content-type'] = 'application/x-www-form-urlencoded';
        const response = await send(method, path, { headers, ...(method === 'POST' ? { body: 'x=1' } : {}) });
        const unrouted = response.status === 405 || (response.status === 404 && /nothing here/.test(response.text));
        if (unrouted === listed.includes(method)) mismatches.push(`${method} ${path}: ${response.status}, listed ${listed.join(',')}`);
        if (response.status === 405 && response.headers.get('allow') !== listed.join(', '))
          mismatches.push(`${method} ${path}: Allow ${response.headers.get('allow')}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('nothing it was sent was logged as a server failure', () => {
    expect(gatehouse.log.lines.filter((line) => line.startsWith('error '))).toEqual([]);
  });
});
