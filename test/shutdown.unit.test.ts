import { Agent, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { closeInOrder, drainableServer, NotClosedError, ShutdownTimeoutError } from '../src/shutdown.js';
import { createRecordingLogger } from './support/gatehouse.js';

/** A server whose requests to /hold wait until `release()`; others answer at once. */
async function holdingServer() {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const http = drainableServer((req, res) => {
    if (req.url === '/hold') held.then(() => res.end('done'));
    else res.end('ok');
  });
  const { server } = http;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return { server, url, release: () => release(), http };
}

function get(url: string, agent: Agent): Promise<{ response: IncomingMessage; body: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += chunk));
      response.once('end', () => resolve({ response, body, socket: req.socket as Socket }));
    });
    req.once('error', reject);
    req.end();
  });
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.closeAllConnections();
});

describe('draining the HTTP server', () => {
  it('lets a request in flight finish with Connection: close, and closes an idle keep-alive connection at once', async () => {
    const { server, url, release, http } = await holdingServer();
    servers.push(server);
    // Two connections: one left idle after its request, one with a request in flight.
    const agent = new Agent({ keepAlive: true });
    const other = new Agent({ keepAlive: true });
    const idle = await get(url('/quick'), agent);
    expect(idle.response.headers.connection).toBe('keep-alive');
    const idleClosed = new Promise((resolve) => idle.socket.once('close', resolve));

    const inFlight = get(url('/hold'), other);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the request reaches the server
    const drained = http.drain(10_000);
    await idleClosed; // the idle one, without waiting for anything
    release();
    const held = await inFlight;
    expect(held.body).toBe('done');
    expect(held.response.headers.connection).toBe('close');
    await drained;
    agent.destroy();
    other.destroy();
  });

  it('cuts what is still in flight when the grace runs out, and says how many', async () => {
    const { server, url, http } = await holdingServer();
    servers.push(server);
    const agent = new Agent({ keepAlive: true });
    const never = get(url('/hold'), agent).catch((error: NodeJS.ErrnoException) => error.code);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(http.drain(100)).rejects.toThrow(new NotClosedError('1 request still in flight, connections cut'));
    expect(await never).toBe('ECONNRESET');
    agent.destroy();
  });
  it('counts only the requests still in flight: answered ones are not among those cut', async () => {
    const { server, url, http } = await holdingServer();
    servers.push(server);
    const agent = new Agent({ keepAlive: true });
    for (const path of ['/one', '/two', '/three']) expect((await get(url(path), agent)).body).toBe('ok');
    const never = [1, 2].map(() => get(url('/hold'), agent).catch((error: NodeJS.ErrnoException) => error.code));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(http.drain(100)).rejects.toThrow(new NotClosedError('2 requests still in flight, connections cut'));
    expect(await Promise.all(never)).toEqual(['ECONNRESET', 'ECONNRESET']);
    agent.destroy();
  });
});

describe('closing in order with a deadline', () => {
  it('runs every closer, leaves a stuck one behind, and names it', async () => {
    const log = createRecordingLogger();
    const order: string[] = [];
    const closing = closeInOrder(
      [
        { name: 'first', close: async () => void order.push('first') },
        { name: 'LISTEN connection', close: () => new Promise<void>(() => order.push('stuck')) },
        { name: 'last', close: async () => void order.push('last') },
      ],
      300,
      log,
    );
    await expect(closing).rejects.toThrow(
      new ShutdownTimeoutError('did not close within GATEHOUSE_SHUTDOWN_TIMEOUT (0.3 s): LISTEN connection'),
    );
    expect(order).toEqual(['first', 'stuck', 'last']);
    expect(log.lines).toContain('warn stop: LISTEN connection did not close in time');
  });

  it('resolves when everything closes', async () => {
    await expect(closeInOrder([{ name: 'a', close: async () => {} }], 1000, silentLogger)).resolves.toBeUndefined();
  });
});
