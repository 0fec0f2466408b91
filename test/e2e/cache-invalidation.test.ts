import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { changeNoticesDuring } from '../support/change-notices.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { postForm } from '../support/service-client.js';

const ITEMS = 'https://items.example.test/';
const LATER = 'https://later.example.test/';
/** Generous: the notification normally arrives in milliseconds. */
const PROMPTLY = { timeout: 15_000, interval: 50 };

/**
 * Two instances on one database, as behind a load balancer: a change made
 * through one reaches the other's in-process cache via LISTEN/NOTIFY.
 */
describe('client and API caches across instances', () => {
  let databaseUrl: string;
  let first: TestGatehouse;
  let second: TestGatehouse;

  const tokenStatus = async (gatehouse: TestGatehouse, credentials: [string, string], resource = ITEMS) => {
    const response = await postForm(`${gatehouse.url}/token`, { grant_type: 'client_credentials', resource }, credentials);
    await response.body?.cancel();
    return response.status;
  };
  const credentialsOf = (client: RegisteredClient): [string, string] => [client.client_id, client.client_secret as string];
  const newService = () =>
    first.clients.registerClient({
      grant_types: ['client_credentials'],
      api_access: [{ resource: ITEMS, scopes: ['items:read'] }],
      default_resource: ITEMS,
    });

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    first = await startTestGatehouse(databaseUrl);
    // Instances that share a database share ISSUER; each is reached at its own address.
    second = await startTestGatehouse(databaseUrl, { ISSUER: first.issuer });
    await first.resources.createResource({ identifier: ITEMS, name: 'Items', scopes: ['items:read'] });
  });
  afterAll(async () => {
    await first?.stop();
    await second?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('a client registered at one instance works at the other, even after the other cached "unknown client"', async () => {
    const clientId = `svc-${Date.now()}`;
    expect(await tokenStatus(second, [clientId, 'anything'])).toBe(401);
    const client = await first.clients.registerClient({
      client_id: clientId,
      grant_types: ['client_credentials'],
      api_access: [{ resource: ITEMS, scopes: [] }],
      default_resource: ITEMS,
    });
    await expect.poll(() => tokenStatus(second, credentialsOf(client)), PROMPTLY).toBe(200);
  });

  it('a rotated secret stops working at the other instance, and the new one works there', async () => {
    const client = await newService();
    expect(await tokenStatus(first, credentialsOf(client))).toBe(200);
    expect(await tokenStatus(second, credentialsOf(client))).toBe(200);

    const rotated = await first.clients.rotateClientSecret(client.client_id);

    await expect.poll(() => tokenStatus(second, credentialsOf(client)), PROMPTLY).toBe(401);
    expect(await tokenStatus(second, [client.client_id, rotated.client_secret])).toBe(200);
    expect(await tokenStatus(first, credentialsOf(client))).toBe(401);
    expect(await tokenStatus(first, [client.client_id, rotated.client_secret])).toBe(200);
  });

  it('a deleted client stops working at the other instance', async () => {
    const client = await newService();
    expect(await tokenStatus(second, credentialsOf(client))).toBe(200);

    await first.clients.deleteClient(client.client_id);

    await expect.poll(() => tokenStatus(second, credentialsOf(client)), PROMPTLY).toBe(401);
    expect(await tokenStatus(first, credentialsOf(client))).toBe(401);
  });

  it('an API registered at one instance is known at the other, even after the other cached "unknown API"', async () => {
    const client = await newService();
    expect(await tokenStatus(second, credentialsOf(client), LATER)).toBe(400);
    await first.resources.createResource({ identifier: LATER, name: 'Later' });
    await first.clients.grantApiAccess(client.client_id, LATER, []);
    await expect.poll(() => tokenStatus(second, credentialsOf(client), LATER), PROMPTLY).toBe(200);
  });

  it("serves clients from memory: a change made behind Gatehouse's back (no notification) waits for the TTL", async () => {
    const client = await newService();
    // An instance starting ensures its own clients and API; unchanged, it must not tell `second` to drop its
    // caches, or a notice arriving late could empty them after the request below filled them.
    const { notices, result: shortLived } = await changeNoticesDuring(databaseUrl, first.prisma, () =>
      startTestGatehouse(databaseUrl, { ISSUER: first.issuer, GATEHOUSE_CACHE_TTL: '2s' }),
    );
    try {
      expect(notices).toEqual([]);

      expect(await tokenStatus(second, credentialsOf(client))).toBe(200);
      expect(await tokenStatus(shortLived, credentialsOf(client))).toBe(200);

      await first.prisma.client.delete({ where: { id: client.client_id } });

      // The default 30 s TTL: still cached right after the silent delete.
      expect(await tokenStatus(second, credentialsOf(client))).toBe(200);
      // The safety net: a 2 s TTL drops it without any notification.
      await expect.poll(() => tokenStatus(shortLived, credentialsOf(client)), PROMPTLY).toBe(401);
    } finally {
      await shortLived.stop();
    }
  });
});
