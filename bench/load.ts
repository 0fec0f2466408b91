import { Agent, request } from 'node:http';

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** A keep-alive HTTP client for loopback load: node:http, no extra layers. */
export function createHttpClient(baseUrl: string, maxSockets: number) {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const outgoing = request({ host: url.hostname, port: url.port, method, path, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  return {
    get: (path: string) => send('GET', path, {}),
    postForm: (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) => {
      const body = new URLSearchParams(fields).toString();
      return send(
        'POST',
        path,
        { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)), ...headers },
        body,
      );
    },
    close: () => agent.destroy(),
  };
}

export interface LoadResult {
  readonly concurrency: number;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU the load generator itself used, in cores (it shares the machine with the server). */
  readonly loadGeneratorCores: number;
}

/**
 * `concurrency` loops, each sending one request after the other, for
 * `seconds` or `maxRequests` in all, whichever comes first (bounded).
 * `worker(i)` makes loop i's next request and says whether it succeeded.
 */
export async function runLoad(
  concurrency: number,
  limits: { seconds: number; maxRequests: number },
  worker: (loop: number) => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let started = 0;
  const cpuBefore = process.cpuUsage();
  const begin = performance.now();
  const deadline = begin + limits.seconds * 1000;

  const loop = async (index: number) => {
    while (performance.now() < deadline && started < limits.maxRequests) {
      started += 1;
      const sent = performance.now();
      let ok = false;
      try {
        ok = await worker(index);
      } catch {
        ok = false;
      }
      latencies.push(performance.now() - sent);
      if (!ok) errors += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => loop(index)));

  const seconds = (performance.now() - begin) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return {
    concurrency,
    requests: latencies.length,
    errors,
    seconds: round(seconds, 2),
    perSecond: round((latencies.length - errors) / seconds, 0),
    p50Ms: round(percentile(50), 2),
    p99Ms: round(percentile(99), 2),
    loadGeneratorCores: round((cpu.user + cpu.system) / 1e6 / seconds, 2),
  };
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
