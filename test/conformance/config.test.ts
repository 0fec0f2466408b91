import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyDiscovery } from '../support/conformance.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

/** The conformance suite's Config OP plan (oidcc-config-certification-test-plan), CONFORMANCE.md §1.2. */
describe('OIDC Config OP plan', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await dropTestDatabase(databaseUrl);
  });

  it('oidcc-discovery-endpoint-verification', async () => {
    const metadata = await verifyDiscovery(gatehouse.issuer);
    // The OAuth document (RFC 8414) says the same.
    const oauth = await (await fetch(`${gatehouse.issuer}/.well-known/oauth-authorization-server`)).json();
    expect(oauth).toEqual(metadata);
  });
});
