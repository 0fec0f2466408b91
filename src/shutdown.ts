import { createServer, type RequestListener, type Server, ServerResponse } from 'node:http';
import type { Logger } from './log.js';

/** One thing a stop closes, named for the log line when it does not close in time. */
export interface Closer {
  readonly name: string;
  close(): Promise<void>;
}

/** A closer that gave up (e.g. cut connections) rather than closing cleanly. */
export class NotClosedError extends Error {
  override name = 'NotClosedError';
}

/** A stop that passed its deadline: the message names what did not close. */
export class ShutdownTimeoutError extends Error {
  override name = 'ShutdownTimeoutError';
}

// However late, each closer gets this long to try (a stopped job closes at once).
const MINIMUM_CLOSER_MS = 200;

/**
 * Runs the closers one after the other, each bounded by what is left of the
 * deadline. A closer that does not finish in time is left behind (named) and
 * the next one runs. Throws ShutdownTimeoutError naming every closer that did
 * not close, so the process can exit non-zero saying so.
 */
export async function closeInOrder(closers: readonly Closer[], deadlineMs: number, log: Logger): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  const notClosed: string[] = [];
  for (const closer of closers) {
    const budget = Math.max(deadline - Date.now(), MINIMUM_CLOSER_MS);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), budget);
      timer.unref();
    });
    try {
      const outcome = await Promise.race([closer.close().then(() => 'closed' as const), timedOut]);
      if (outcome === 'timeout') {
        notClosed.push(closer.name);
        log.warn(`stop: ${closer.name} did not close in time`);
      }
    } catch (error) {
      if (error instanceof NotClosedError) notClosed.push(`${closer.name} (${error.message})`);
      log.warn(`stop: ${closer.name}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }
  if (notClosed.length)
    throw new ShutdownTimeoutError(`did not close within GATEHOUSE_SHUTDOWN_TIMEOUT (${deadlineMs / 1000} s): ${notClosed.join(', ')}`);
}

// While draining, how often connections that fell idle are closed.
const IDLE_SWEEP_MS = 100;

/**
 * An HTTP server that can be drained: once `drain` starts, every response
 * whose headers are not yet written says `Connection: close` (so keep-alive
 * clients reconnect elsewhere instead of being reset later), idle keep-alive
 * connections are closed, and requests in flight finish.
 *
 * It keeps nothing per request. A long-lived Set of the responses in flight
 * kept every request (with its Koa and engine contexts) alive through
 * young-generation collections, ~3-5 KB promoted to the old generation per
 * token (docs/performance.md, "Client credentials (eighth round)"). Instead a
 * response learns that a drain began when it writes its headers, through its
 * class; a connection whose response began before the drain (so said
 * keep-alive) is closed by a sweep of idle connections once that response
 * ends, not left to the keep-alive timeout; and the connections still open
 * when the grace runs out are counted, not the requests.
 */
export function drainableServer(handler: RequestListener): { server: Server; drain(graceMs: number): Promise<void> } {
  let draining = false;
  class DrainAwareResponse extends ServerResponse {
    override writeHead(statusCode: number, ...rest: unknown[]): this {
      if (draining) closeAfter(this);
      return Reflect.apply(ServerResponse.prototype.writeHead, this, [statusCode, ...rest]) as this;
    }
  }
  // Node's `writeHeader` is an alias of the base class's writeHead, which would bypass the override.
  Object.assign(DrainAwareResponse.prototype, { writeHeader: DrainAwareResponse.prototype.writeHead });
  const server = createServer({ ServerResponse: DrainAwareResponse }, handler);
  const openConnections = () => new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));
  return {
    server,
    async drain(graceMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), graceMs);
      });
      const outcome = await Promise.race([closed.then(() => 'closed' as const), late]);
      clearTimeout(timer);
      clearInterval(sweep);
      if (outcome === 'closed') return;
      const busy = await openConnections();
      server.closeAllConnections();
      await closed;
      throw new NotClosedError(`cut ${busy} connection${busy === 1 ? '' : 's'} with a request in flight`);
    },
  };
}

function closeAfter(res: ServerResponse): void {
  if (res.headersSent) return;
  res.shouldKeepAlive = false;
  res.setHeader('Connection', 'close');
}
