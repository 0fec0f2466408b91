import type { Adapter, AdapterPayload, Client } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareClientSecretsWith, reuseClientPerPayload } from '../../src/oidc/provider-internals.js';
import { basicAuth, postForm, startEngine, type TestEngine } from '../support/engine.js';

// The engine's own Client.find against adapter-served clients (not static
// ones), with and without the seam (src/oidc/provider-internals.ts,
// reuseClientPerPayload). Payloads are handed out as Gatehouse's client
// adapter does: one object per client until that client changes.

const SECRET = 'a client secret that is long enough';
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
