import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

describe('health endpoints', () => {
  let gatehouse: TestGatehouse;
  let databaseUrl: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
  });
  afterAll(async () => {
    await gatehouse?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it('/healthz and /readyz answer 200 with security headers', async () => {
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${gatehouse.url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
      expect(response.headers.get('x-frame-options')).toBe('DENY');
    }
  });

  it('answers unknown paths with 404, not a 500', async () => {
    const response = await fetch(`${gatehouse.url}/no/such/path`);
    expect(response.status).toBe(404);
  });

  describe('when its database is gone', () => {
    // An instance of its own: dropping the database must not change what the tests above see, in any order.
    let doomed: TestGatehouse;
    let doomedUrl: string;

    beforeAll(async () => {
      doomedUrl = await createTestDatabase();
      doomed = await startTestGatehouse(doomedUrl);
    });
    afterAll(async () => {
      await doomed?.stop();
    });

    it('/readyz answers 503 when Postgres does not, while /healthz stays up', async () => {
      await dropTestDatabase(doomedUrl);
      const ready = await fetch(`${doomed.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'unavailable', error: 'database_unavailable' });
      expect((await fetch(`${doomed.url}/healthz`)).status).toBe(200);
    });
  });
});
