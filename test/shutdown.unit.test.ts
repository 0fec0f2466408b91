import { Agent, request, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../src/log.js';
import { closeInOrder, drainableServer, NotClosedError, ShutdownTimeoutError } from '../src/shutdown.js';
import { createRecordingLogger } from './support/gatehouse.js';

/**
 * A server whose requests to /hold... wait until `release()`, then answer:
 * /hold through Node's implicit headers (`end`), /hold-explicit with
 * `writeHead`, /hold-writeHeader with its alias; /flushed writes its headers
 * at once and its body after the release. Others answer at once.
 * `held()` counts the requests that reached a held path, for a test to wait
 * on instead of guessing how long they take to arrive.
 */
async function holdingServer() {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let heldRequests = 0;
  const http = drainableServer((req, res) => {
    if (req.url?.startsWith('/hold') || req.url === '/flushed') heldRequests += 1;
    if (req.url === '/hold') held.then(() => res.end('done'));
    else if (req.url === '/hold-explicit')
      held.then(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('done');
      });
    else if (req.url === '/hold-writeHeader')
      held.then(() => {
        (res as unknown as { writeHeader(status: number): void }).writeHeader(200);
        res.end('done');
      });
    else if (req.url === '/flushed') {
      res.flushHeaders();
      held.then(() => res.end('done'));
    } else res.end('ok');
  });
  const { server } = http;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return { server, url, release: () => release(), held: () => heldRequests, http };
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
  it('lets requests in flight finish with Connection: close, however they write their headers, and closes an idle keep-alive connection at once', async () => {
    const { server, url, release, held, http } = await holdingServer();
    servers.push(server);
    // One connection left idle after its request, and one per request in flight.
    const agent = new Agent({ keepAlive: true });
    const idle = await get(url('/quick'), agent);
    expect(idle.response.headers.connection).toBe('keep-alive');
    const idleClosed = new Promise((resolve) => idle.socket.once('close', resolve));

    const paths = ['/hold', '/hold-explicit', '/hold-writeHeader'];
    const agents = paths.map(() => new Agent({ keepAlive: true }));
    const inFlight = paths.map((path, n) => get(url(path), agents[n] as Agent));
    await expect.poll(held).toBe(paths.length);
    const drained = http.drain(10_000);
    await idleClosed; // the idle one, without waiting for anything
    release();
    for (const [n, answer] of (await Promise.all(inFlight)).entries()) {
      expect(answer.body, paths[n]).toBe('done');
      expect(answer.response.headers.connection, paths[n]).toBe('close');
    }
    await drained;
    for (const each of [agent, ...agents]) each.destroy();
  });

  it('closes a connection whose response began before the drain (it said keep-alive) once that response ends, not at the keep-alive timeout', async () => {
    const { server, url, release, held, http } = await holdingServer();
    servers.push(server);
    server.keepAliveTimeout = 60_000; // far beyond the test's own timeout
    const agent = new Agent({ keepAlive: true });
    const flushed = get(url('/flushed'), agent);
    await expect.poll(held).toBe(1);
    const drained = http.drain(60_000);
    release();
    const answer = await flushed;
    expect(answer.body).toBe('done');
    expect(answer.response.headers.connection).toBe('keep-alive');
    const socketClosed = new Promise((resolve) => answer.socket.once('close', resolve));
    await drained;
    await socketClosed;
    agent.destroy();
  });

  it('cuts what is still in flight when the grace runs out, and says how many', async () => {
    const { server, url, held, http } = await holdingServer();
    servers.push(server);
    const agent = new Agent({ keepAlive: true });
    const never = get(url('/hold'), agent).catch((error: NodeJS.ErrnoException) => error.code);
    await expect.poll(held).toBe(1);
    await expect(http.drain(100)).rejects.toThrow(new NotClosedError('cut 1 connection with a request in flight'));
    expect(await never).toBe('ECONNRESET');
    agent.destroy();
  });
  it('counts only the connections with a request in flight: idle ones, and ones whose client went away, are not among those cut', async () => {
    const { server, url, held, http } = await holdingServer();
    servers.push(server);
    const agent = new Agent({ keepAlive: true });
    const answered = new Agent({ keepAlive: true });
    for (const path of ['/one', '/two', '/three']) expect((await get(url(path), answered)).body).toBe('ok');
    // A client that sent two requests down one connection (pipelined) and went away before either was answered.
    const pipelined = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => pipelined.once('connect', resolve));
    pipelined.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\nGET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(held).toBe(2); // Node hands both to the handler; the second's answer waits behind the first's
    pipelined.destroy();
    const never = [1, 2].map(() => get(url('/hold'), agent).catch((error: NodeJS.ErrnoException) => error.code));
    await expect.poll(held).toBe(4);
    await expect(http.drain(100)).rejects.toThrow(new NotClosedError('cut 2 connections with a request in flight'));
    expect(await Promise.all(never)).toEqual(['ECONNRESET', 'ECONNRESET']);
    agent.destroy();
    answered.destroy();
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
