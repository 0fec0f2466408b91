import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redirectUriProblem } from '../../src/clients/client-metadata.js';
import { clientSecretMatches } from '../../src/clients/client-secrets.js';
import { createClientService, type ClientService } from '../../src/clients/clients.js';
import { createResourceService } from '../../src/clients/resources.js';
import { changeNoticesDuring } from '../support/change-notices.js';
import { createMigratedDatabase } from '../support/services.js';

describe('client registration', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let clients: ClientService;
  const key = createSecretKey(randomBytes(32));

  beforeAll(async () => {
    database = await createMigratedDatabase();
    clients = createClientService(database.prisma, key);
  });
  afterAll(() => database?.drop());

  it('registers a device-only client without redirect URIs or response types (RFC 8628)', async () => {
    const client = await clients.registerClient({
      client_name: 'TV',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    });
    expect(client).toMatchObject({
      redirect_uris: [],
      response_types: [],
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    });
    expect(client.client_secret).toBeUndefined();
    await expect(clients.registerClient({ grant_types: ['authorization_code'] })).rejects.toMatchObject({ code: 'invalid_redirect_uri' });
    await expect(
      clients.registerClient({ grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], response_types: ['code'] }),
    ).rejects.toMatchObject({ code: 'invalid_client_metadata' });
  });

  it('generates a 256-bit secret for a confidential client and stores only its keyed hash', async () => {
    const client = await clients.registerClient({ client_name: 'App', redirect_uris: ['https://app.example.com/cb'] });
    expect(client.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(Buffer.from(client.client_secret as string, 'base64url')).toHaveLength(32);
    const dump = JSON.stringify(await database.prisma.$queryRawUnsafe('SELECT * FROM clients'));
    expect(dump).not.toContain(client.client_secret);
    const stored = await clients.findStoredClient(client.client_id);
    expect(stored?.metadata).not.toHaveProperty('client_secret');
    expect(clientSecretMatches(client.client_secret as string, stored?.secretHash as string, key)).toBe(true);
    expect(clientSecretMatches('wrong', stored?.secretHash as string, key)).toBe(false);
    expect(clientSecretMatches(client.client_secret as string, stored?.secretHash as string, createSecretKey(randomBytes(32)))).toBe(false);
  });

  it('gives a public client no secret', async () => {
    const client = await clients.registerClient({ redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: 'none' });
    expect(client).not.toHaveProperty('client_secret');
    expect((await clients.findStoredClient(client.client_id))?.secretHash).toBeNull();
  });

  it('refuses a client_id that is taken', async () => {
    await clients.registerClient({ client_id: 'taken-id', redirect_uris: ['https://a.example.com/cb'] });
    await expect(clients.registerClient({ client_id: 'taken-id', redirect_uris: ['https://a.example.com/cb'] })).rejects.toMatchObject({
      status: 409,
    });
  });

  it.each([
    ['https://app.example.com/cb#fragment', 'fragment'],
    ['/relative/path', 'not an absolute URI'],
    ['javascript:alert(1)', 'forbidden scheme'],
    ['data:text/html,hi', 'forbidden scheme'],
    ['http://app.example.com/cb', 'must use https'],
    ['com.example.app:/callback', 'native clients only'],
  ])('refuses the redirect URI %s with invalid_redirect_uri', async (uri, reason) => {
    await expect(clients.registerClient({ redirect_uris: [uri] })).rejects.toMatchObject({
      status: 400,
      code: 'invalid_redirect_uri',
      description: expect.stringContaining(reason),
    });
  });

  it('accepts loopback http and, for native apps, reverse-domain schemes (RFC 8252 §7)', () => {
    expect(redirectUriProblem('http://127.0.0.1:8080/cb', 'web')).toBeUndefined();
    expect(redirectUriProblem('http://localhost/cb', 'web')).toBeUndefined();
    expect(redirectUriProblem('http://[::1]:9000/cb', 'native')).toBeUndefined();
    expect(redirectUriProblem('com.example.app:/callback', 'native')).toBeUndefined();
    expect(redirectUriProblem('myapp:/callback', 'native')).toMatch(/reverse-domain/);
  });

  it('refuses unknown metadata and bad grant combinations with invalid_client_metadata', async () => {
    await expect(clients.registerClient({ redirect_uris: ['https://a.example.com/cb'], unknown_field: 1 } as never)).rejects.toMatchObject({
      code: 'invalid_client_metadata',
    });
    await expect(
      clients.registerClient({ redirect_uris: ['https://a.example.com/cb'], grant_types: ['refresh_token'] }),
    ).rejects.toMatchObject({ code: 'invalid_client_metadata' });
    await expect(clients.registerClient({ redirect_uris: [] })).rejects.toMatchObject({ code: 'invalid_redirect_uri' });
  });
});

describe('ensuring a client (the admin and page clients, at every start)', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let clients: ClientService;
  const key = createSecretKey(randomBytes(32));
  const metadata = { client_name: 'Own page', redirect_uris: ['https://id.example.test/cb'], grant_types: ['authorization_code' as const] };

  beforeAll(async () => {
    database = await createMigratedDatabase();
    clients = createClientService(database.prisma, key);
  });
  afterAll(() => database?.drop());

  it('creates it, changes it when its metadata or secret differ, and leaves it, telling no instance to drop its cache, when they do not', async () => {
    const { notices } = await changeNoticesDuring(database.databaseUrl, database.prisma, async () => {
      await clients.ensureClient('own-page', metadata, 'secret one');
      await clients.ensureClient('own-page', { ...metadata }, 'secret one'); // a restart: nothing to do
      await clients.ensureClient('own-page', { ...metadata, client_name: 'Own page, renamed' }, 'secret one');
      await clients.ensureClient('own-page', { ...metadata, client_name: 'Own page, renamed' }, 'secret two');
    });
    expect(notices).toEqual(['clients', 'clients', 'clients']);
    const stored = await database.prisma.client.findUniqueOrThrow({ where: { id: 'own-page' } });
    expect(stored.metadata).toMatchObject({ client_name: 'Own page, renamed' });
    expect(clientSecretMatches('secret two', stored.secretHash as string, key)).toBe(true);
  });
});

describe('service (client_credentials) registration', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let clients: ClientService;
  const key = createSecretKey(randomBytes(32));
  const { n, e } = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  const rsaJwk = { kty: 'RSA' as const, n: n as string, e: e as string, kid: 'k1' };

  beforeAll(async () => {
    database = await createMigratedDatabase();
    clients = createClientService(database.prisma, key);
  });
  afterAll(() => database?.drop());

  it('registers a client_credentials-only client without redirect URIs or response types', async () => {
    await createResourceService(database.prisma).createResource({
      identifier: 'https://api.example.test/',
      name: 'API',
      scopes: ['items:read'],
    });
    const client = await clients.registerClient({
      grant_types: ['client_credentials'],
      api_access: [{ resource: 'https://api.example.test/', scopes: ['items:read'] }],
      default_resource: 'https://api.example.test/',
    });
    expect(client).toMatchObject({
      redirect_uris: [],
      response_types: [],
      grant_types: ['client_credentials'],
      default_resource: 'https://api.example.test/',
    });
    expect(client.client_secret).toEqual(expect.any(String));
  });

  it('still requires a redirect URI for authorization_code clients', async () => {
    await expect(clients.registerClient({ grant_types: ['authorization_code', 'client_credentials'] })).rejects.toMatchObject({
      code: 'invalid_redirect_uri',
    });
    await expect(clients.registerClient({})).rejects.toMatchObject({ code: 'invalid_redirect_uri' });
  });

  it('registers a private_key_jwt client with jwks or jwks_uri and gives it no secret', async () => {
    const withJwks = await clients.registerClient({
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [rsaJwk] },
    });
    expect(withJwks).not.toHaveProperty('client_secret');
    expect((await clients.findStoredClient(withJwks.client_id))?.secretHash).toBeNull();
    const withUri = await clients.registerClient({
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://svc.example.test/jwks.json',
      token_endpoint_auth_signing_alg: 'ES256',
    });
    expect(withUri.token_endpoint_auth_signing_alg).toBe('ES256');
  });

  it.each([
    ['a public client_credentials client', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }],
    ['private_key_jwt without keys', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt' }],
    [
      'private_key_jwt with both jwks and jwks_uri',
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [rsaJwk] },
        jwks_uri: 'https://svc.example.test/jwks',
      },
    ],
    [
      'an HMAC signing alg',
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [rsaJwk] },
        token_endpoint_auth_signing_alg: 'HS256',
      },
    ],
    [
      'alg none',
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [rsaJwk] },
        token_endpoint_auth_signing_alg: 'none',
      },
    ],
    [
      'a symmetric key in jwks',
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] },
      },
    ],
    [
      'a private key in jwks',
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...rsaJwk, d: 'private' }] } },
    ],
    [
      'a key marked for HS256',
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...rsaJwk, alg: 'HS256' }] } },
    ],
    ['client_secret_jwt', { grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_jwt' }],
    ['jwks on a secret client', { grant_types: ['client_credentials'], jwks: { keys: [rsaJwk] } }],
    ['a default_resource with a fragment', { grant_types: ['client_credentials'], default_resource: 'https://api.example.test/#x' }],
    [
      'a default_resource on a client without client_credentials',
      { redirect_uris: ['https://a.example.com/cb'], default_resource: 'https://api.example.test/' },
    ],
    [
      'a JWK that is not a key',
      {
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }] },
      },
    ],
    [
      'an http jwks_uri',
      { grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://127.0.0.1:9/jwks.json' },
    ],
    ['a malformed scope', { grant_types: ['client_credentials'], scope: 'openid  email' }],
    ['an API scope in scope (API scopes are granted with api_access)', { grant_types: ['client_credentials'], scope: 'openid items:read' }],
    [
      'a grant on an unregistered API',
      { grant_types: ['client_credentials'], api_access: [{ resource: 'https://nowhere.example.test/', scopes: [] }] },
    ],
    [
      'a grant of a scope the API does not define',
      { grant_types: ['client_credentials'], api_access: [{ resource: 'https://api.example.test/', scopes: ['items:delete'] }] },
    ],
    [
      'the same API granted twice',
      {
        grant_types: ['client_credentials'],
        api_access: [
          { resource: 'https://api.example.test/', scopes: [] },
          { resource: 'https://api.example.test/', scopes: [] },
        ],
      },
    ],
    [
      'a default_resource the client is not granted',
      { grant_types: ['client_credentials'], default_resource: 'https://api.example.test/' },
    ],
  ])('refuses %s with invalid_client_metadata', async (_case, metadata) => {
    await expect(clients.registerClient(metadata as never)).rejects.toMatchObject({ status: 400, code: 'invalid_client_metadata' });
  });

  it('rotates a secret: only the new one matches', async () => {
    const client = await clients.registerClient({ grant_types: ['client_credentials'] });
    const rotated = await clients.rotateClientSecret(client.client_id);
    const stored = await clients.findStoredClient(client.client_id);
    expect(clientSecretMatches(rotated.client_secret, stored?.secretHash as string, key)).toBe(true);
    expect(clientSecretMatches(client.client_secret as string, stored?.secretHash as string, key)).toBe(false);
  });

  it('deletes a client, and answers 404 for an unknown one', async () => {
    const client = await clients.registerClient({ grant_types: ['client_credentials'] });
    await clients.deleteClient(client.client_id);
    expect(await clients.findStoredClient(client.client_id)).toBeNull();
    await expect(clients.deleteClient(client.client_id)).rejects.toMatchObject({ status: 404 });
    await expect(clients.rotateClientSecret('no-such-client')).rejects.toMatchObject({ status: 404 });
  });

  it('refuses to rotate the secret of a client without one', async () => {
    const client = await clients.registerClient({
      grant_types: ['client_credentials'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [rsaJwk] },
    });
    await expect(clients.rotateClientSecret(client.client_id)).rejects.toMatchObject({ status: 400 });
  });
});

describe('API registration', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;

  beforeAll(async () => {
    database = await createMigratedDatabase();
  });
  afterAll(() => database?.drop());

  it('ensures a built-in API at every start: creates or updates it, telling every instance, and leaves it silently when it is already so', async () => {
    const resources = createResourceService(database.prisma);
    const builtIn = {
      identifier: 'https://built-in.example.test/',
      name: 'Built in',
      scopes: [{ name: 'read', description: 'Read' }],
      accessTokenTtl: 600,
      rbac: true,
    };
    const described = [
      { name: 'read', description: 'Read it' },
      { name: 'write', description: 'Write' },
    ];
    const renamed = { identifier: builtIn.identifier, name: 'Built in, renamed', scopes: described, accessTokenTtl: 300 };
    // Each step names what it changes; a step that changes nothing must tell no instance.
    const steps: [change: string, input: Parameters<typeof resources.ensureResource>[0]][] = [
      ['created', builtIn],
      ['nothing (a restart)', { ...builtIn, scopes: [{ name: 'read', description: 'Read' }] }],
      ['a scope added', { ...builtIn, scopes: [...builtIn.scopes, { name: 'write', description: 'Write' }] }],
      ['a description', { ...builtIn, scopes: described }],
      ['the lifetime', { ...builtIn, scopes: described, accessTokenTtl: 300 }],
      ['the name', { ...renamed, rbac: true }],
      ['nothing (rbac not given)', renamed],
      ['rbac', { ...renamed, rbac: false }],
    ];
    const { notices } = await changeNoticesDuring(database.databaseUrl, database.prisma, async () => {
      for (const [, input] of steps) await resources.ensureResource(input);
    });
    const changes = steps.filter(([change]) => !change.startsWith('nothing'));
    expect(notices).toEqual(changes.map(() => 'resources'));
    const stored = await database.prisma.resource.findUniqueOrThrow({ where: { identifier: builtIn.identifier } });
    expect(stored).toMatchObject({
      name: 'Built in, renamed',
      accessTokenTtl: 300,
      rbac: false,
      scopes: [
        { name: 'read', description: 'Read it' },
        { name: 'write', description: 'Write' },
      ],
    });
  });

  it('registers an API with scopes, described or not, and a default lifetime of 10 minutes', async () => {
    const resources = createResourceService(database.prisma);
    const api = await resources.createResource({
      identifier: 'https://api.example.com/',
      name: 'API',
      scopes: ['read', { name: 'write', description: 'Change things' }],
    });
    expect(api).toMatchObject({
      identifier: 'https://api.example.com/',
      accessTokenTtl: 600,
      scopes: [{ name: 'read' }, { name: 'write', description: 'Change things' }],
    });
    expect(await resources.findResourceByIdentifier('https://api.example.com/')).toEqual(api);
    await expect(resources.createResource({ identifier: 'https://api.example.com/', name: 'Again' })).rejects.toMatchObject({
      status: 409,
    });
    await expect(resources.createResource({ identifier: 'https://api.example.com/#x', name: 'Fragment' })).rejects.toMatchObject({
      status: 400,
    });
    await expect(resources.createResource({ identifier: 'not a uri', name: 'Bad' })).rejects.toMatchObject({ status: 400 });
  });
});
