import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../support/database.js';
import { startTestGatehouse, type TestGatehouse } from '../support/gatehouse.js';

/** A raw HTTP/1.1 connection: what it has received, and when the server closed it. */
function openConnection(url: string): { socket: Socket; received: () => string; closed: Promise<number> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  const opened = Date.now();
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - opened)));
  return { socket, received: () => received, closed };
}

const HEALTH_REQUEST = 'GET /healthz HTTP/1.1\r\nHost: gatehouse.test\r\n\r\n';
// Answers follow each other on the connection: the next status line starts right after the last body.
const answers = (text: string) => text.match(/HTTP\/1\.1 200 OK\r\n/g)?.length ?? 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ANSWERED = { timeout: 5000, interval: 20 };

describe('keep-alive connections (GATEHOUSE_KEEP_ALIVE_TIMEOUT)', () => {
  let databaseUrl: string;
  let gatehouse: TestGatehouse;
  let shortLived: TestGatehouse;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    gatehouse = await startTestGatehouse(databaseUrl);
    // A second instance of the same database, so the same issuer.
    shortLived = await startTestGatehouse(databaseUrl, { ISSUER: gatehouse.issuer, GATEHOUSE_KEEP_ALIVE_TIMEOUT: '1s' });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await shortLived?.stop();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  // A proxy in front reuses its idle connections for up to its own idle timeout
  // (nginx and AWS ALB: 60 s); one the server closed first would turn the next request into a 502.
  it('keeps an idle connection open past the 5 seconds Node would keep it, and answers the next request on it', async () => {
    const connection = openConnection(gatehouse.url);
    connection.socket.write(HEALTH_REQUEST);
    await expect.poll(() => answers(connection.received()), ANSWERED).toBe(1);
    await sleep(6000);
    expect(connection.socket.destroyed).toBe(false);
    connection.socket.write(HEALTH_REQUEST);
    await expect.poll(() => answers(connection.received()), ANSWERED).toBe(2);
    expect(connection.received()).not.toMatch(/^connection: close/im);
    connection.socket.destroy();
  }, 15_000);

  it('closes an idle connection once the configured timeout has passed', async () => {
    const connection = openConnection(shortLived.url);
    connection.socket.write(HEALTH_REQUEST);
    await expect.poll(() => answers(connection.received()), ANSWERED).toBe(1);
    const closedAfterMs = await connection.closed;
    expect(closedAfterMs).toBeGreaterThanOrEqual(1000);
    expect(closedAfterMs).toBeLessThan(5000);
  }, 15_000);

  it('refuses a keep-alive timeout that is not a duration, naming the setting', async () => {
    await expect(startTestGatehouse(databaseUrl, { GATEHOUSE_KEEP_ALIVE_TIMEOUT: 'forever' })).rejects.toThrow(
      /GATEHOUSE_KEEP_ALIVE_TIMEOUT/,
    );
  });
});
