import { Agent, request, type IncomingMessage } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { testPort } from '../support/ports.js';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { TEST_SECRET } from '../support/gatehouse.js';
import { startOwnPostgres, type OwnPostgres } from '../support/own-postgres.js';
import { killSpawnedGatehouses, spawnGatehouse, waitForListening } from '../support/spawned-gatehouse.js';

type Outcome = { response: IncomingMessage } | { error: NodeJS.ErrnoException; retryable: boolean };

/**
 * One GET. A reset before any answer is retryable for an idempotent request
 * (RFC 9112 §9.3.1): a keep-alive socket closed while idle, or a connection
 * caught in the listen queue as the server stopped listening.
 */
function get(url: string, agent: Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(url, { agent }, (response) => {
      response.resume();
      response.once('end', () => resolve({ response }));
    });
    req.once('error', (error: NodeJS.ErrnoException) => resolve({ error, retryable: error.code === 'ECONNRESET' }));
    req.end();
  });
}

// Spawned servers and Postgres clusters: slow to start on a loaded 2-core machine.
describe('stopping', { timeout: 180_000 }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  let postgres: OwnPostgres | undefined;
  afterEach(async () => {
    postgres?.resume();
    await killSpawnedGatehouses();
  });
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('on SIGTERM under keep-alive load, resets no request, stops serving the kept-alive connections at once, and exits 0 (the mechanism: test/shutdown.unit.test.ts)', async () => {
    const databaseUrl = await createTestDatabase();
    cleanups.push(() => dropTestDatabase(databaseUrl));
    const port = await testPort();
    const server = spawnGatehouse({ DATABASE_URL: databaseUrl, GATEHOUSE_SECRET: TEST_SECRET, PORT: String(port), HOST: '127.0.0.1' });
    await waitForListening(server);

    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const url = `http://127.0.0.1:${port}/healthz`;
    let served = 0;
    let signalled = false;
    const loop = async () => {
      const afterSignal: IncomingMessage[] = [];
      for (;;) {
        let outcome = await get(url, agent);
        for (let retries = 0; retries < 3 && 'error' in outcome && outcome.retryable; retries++) outcome = await get(url, agent); // what HTTP clients do
        if ('error' in outcome) return { afterSignal, ended: outcome.error.code };
        expect(outcome.response.statusCode).toBe(200);
        served++;
        if (signalled) afterSignal.push(outcome.response);
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    while (served < 200) await new Promise((resolve) => setTimeout(resolve, 5));
    server.child.kill('SIGTERM');
    signalled = true;
    const results = await Promise.all(loops);
    agent.destroy();

    expect((await server.exited).code).toBe(0);
    for (const { afterSignal, ended } of results) {
      // Refused once the server stopped listening: no request is lost to a reset.
      expect(ended).toBe('ECONNREFUSED');
      // Not kept being served for seconds: answers after the stop began said Connection: close.
      expect(afterSignal.length).toBeLessThan(10);
      expect(afterSignal.slice(0, -1).every((response) => response.headers.connection === 'keep-alive')).toBe(true);
    }
  });

  it('with Postgres paused, SIGTERM still exits within GATEHOUSE_SHUTDOWN_TIMEOUT, non-zero, naming what did not close', async () => {
    postgres = await startOwnPostgres();
    const own = postgres;
    cleanups.push(() => own.destroy());
    const server = spawnGatehouse({
      DATABASE_URL: own.connectionString,
      GATEHOUSE_SECRET: TEST_SECRET,
      PORT: String(await testPort()),
      GATEHOUSE_SHUTDOWN_TIMEOUT: '2s',
    });
    await waitForListening(server);
    own.pause();
    try {
      server.child.kill('SIGTERM');
      const { code } = await server.exited;
      expect(code, server.output()).toBe(1);
    } finally {
      own.resume();
    }
    expect(server.output()).toMatch(
      /shutdown failed: did not close within GATEHOUSE_SHUTDOWN_TIMEOUT \(2 s\): .*change listener \(LISTEN connection\)/,
    );
  });
});
