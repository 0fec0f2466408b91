import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FREE_PORT_RANGE, findFreePort } from '../../src/db/embedded-postgres.js';
import { testPort } from '../support/ports.js';

function listenOn(port: number): Promise<Server> {
  return new Promise((resolveServer, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolveServer(server));
  });
}

describe('findFreePort', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
  });

  it('picks its ports outside the range this machine gives outgoing connections', async () => {
    // Not bound here: on the whole range, holding them could take a port another test worker is about to bind.
    const ports = await Promise.all(Array.from({ length: 20 }, () => findFreePort()));
    // Linux's range for outgoing connections (the ones that could take a port between the check and the bind).
    const [firstEphemeral, lastEphemeral] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    for (const port of ports) {
      expect(port).toBeGreaterThanOrEqual(FREE_PORT_RANGE.first);
      expect(port).toBeLessThanOrEqual(FREE_PORT_RANGE.last);
      expect(port < (firstEphemeral as number) || port > (lastEphemeral as number)).toBe(true);
    }
  });

  it('passes over a port something already listens on', async () => {
    const [taken, next] = [await testPort(), await testPort()];
    servers.push(await listenOn(taken));
    const candidates = [taken, taken, next];
    expect(await findFreePort(() => candidates.shift() as number)).toBe(next);
    expect(candidates).toEqual([]);
  });

  it('says so when it finds none, instead of returning a taken port', async () => {
    const taken = await testPort();
    servers.push(await listenOn(taken));
    await expect(findFreePort(() => taken)).rejects.toThrow(/^no free TCP port on 127\.0\.0\.1 after 50 tries/);
  });
});
