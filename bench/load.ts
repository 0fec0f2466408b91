import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export type HttpClient = ReturnType<typeof createHttpClient>;

/** A keep-alive HTTP client for loopback load: node:http, no extra layers. */
export function createHttpClient(baseUrl: string, maxSockets: number) {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = (method: string, path: string, headers: Record<string, string>, body?: string) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const outgoing = request({ host: url.hostname, port: url.port, method, path, headers, agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        response.on('error', reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  return {
    baseUrl,
    get: (path: string, headers: Record<string, string> = {}) => send('GET', path, headers),
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

/** Whether wrk (the issue's load generator: C, one thread, far less CPU per request than node:http) is on PATH. */
export function wrkAvailable(): boolean {
  const probe = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  return probe.error === undefined && /wrk/.test(`${probe.stdout}${probe.stderr}`);
}

/**
 * Tokens that can each be used once and whose answer carries the next one
 * (refresh tokens, RFC 6749 §6 with rotation): the pool starts with `tokens`,
 * each request takes one as its last form field `field`, and each 200
 * answer's JSON member `field` goes back into the pool. Give one token more
 * than the connections: wrk asks for one request before it connects, to
 * check the script (wrk.c's script_verify_request), and that one is never sent.
 * Tokens beyond that are a reserve: an answer that brings no token back (an
 * error, a dropped connection) then costs the run one reserve token, not a
 * chain that sends spent tokens from then on.
 */
export interface TokenChain {
  readonly field: string;
  readonly tokens: readonly string[];
}

/**
 * A header whose value changes with every request, in turn (one client's
 * credentials after another's): request n sends `values[n % values.length]`.
 */
export interface RotatingHeader {
  readonly name: string;
  readonly values: readonly string[];
}

/**
 * One wrk run (one thread, `concurrency` keep-alive connections, each sending
 * its next request when the last is answered) of the same POST over and over,
 * or with `chain`, of a POST that spends a token and gets the next, or with
 * `rotate`, of the same POST with one header taking its values in turn.
 * Errors are non-2xx answers and socket errors; the percentiles are wrk's
 * own (--latency); its CPU is sampled from /proc just before it ends.
 */
export async function runWrk(
  baseUrl: string,
  concurrency: number,
  seconds: number,
  request: { path: string; headers: Record<string, string>; form: Record<string, string>; chain?: TokenChain; rotate?: RotatingHeader },
): Promise<LoadResult> {
  if (request.chain && request.rotate) throw new Error('a wrk run takes a token chain or a rotating header, not both');
  const rotated = request.rotate?.name.toLowerCase();
  if (rotated && [...Object.keys(request.headers), 'content-type'].some((name) => name.toLowerCase() === rotated))
    throw new Error(`the rotating header ${request.rotate?.name} is also a fixed one`);
  // One wrk thread (-t1 below) holds the whole pool; with fewer tokens than connections plus wrk's own check, chains would break.
  if (request.chain && request.chain.tokens.length <= concurrency)
    throw new Error(`a token chain needs more tokens than connections (${concurrency}), not ${request.chain.tokens.length}`);
  const form = new URLSearchParams(request.form).toString();
  const script = [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(form)}`,
    'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
    ...Object.entries(request.headers).map(([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`),
    ...(request.chain ? chainScript(form, request.chain.field) : []),
    ...(request.rotate ? rotationScript(request.rotate) : []),
  ].join('\n');
  const directory = await mkdtemp(join(tmpdir(), 'gatehouse-wrk-'));
  const scriptPath = join(directory, 'request.lua');
  await writeFile(scriptPath, `${script}\n`);
  try {
    const args = ['-t1', `-c${concurrency}`, `-d${seconds}s`, '--latency', '-s', scriptPath, `${baseUrl}${request.path}`];
    const child = spawn('wrk', request.chain ? [...args, '--', ...request.chain.tokens.map(encodeURIComponent)] : args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, seconds * 1000 - 300)));
    const cpuMs = await processCpuMs(child.pid as number);
    const code = await exited;
    if (code !== 0) throw new Error(`wrk exited ${code}:\n${output}`);
    return parseWrk(output, concurrency, cpuMs);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}

/**
 * wrk's Lua hooks for a TokenChain: a first-in first-out pool of tokens (the
 * script's arguments, URL-encoded), refilled from the answers. wrk calls
 * `response` before it asks `request` for that connection's next request, so
 * the pool holds a token for every connection as long as answers carry one;
 * an error that breaks a chain takes a reserve token's place, and once the
 * reserve is gone the pool runs dry and a connection that finds it empty
 * sends a spent token: an error per such request, never a silent one.
 */
function chainScript(form: string, field: string): string[] {
  // The name goes into Lua source and a Lua pattern as it is.
  if (!/^[A-Za-z0-9_]+$/.test(field)) throw new Error(`a token chain's field must be a plain JSON member name, not ${field}`);
  return [
    'local pool, first, last = {}, 1, 0',
    'function init(args) for _, token in ipairs(args) do last = last + 1; pool[last] = token end end',
    'local spent = "spent"',
    'function request()',
    '  local token = spent',
    '  if first <= last then token = pool[first]; pool[first] = nil; first = first + 1 end',
    `  return wrk.format(nil, nil, nil, ${JSON.stringify(`${form}${form ? '&' : ''}${field}=`)} .. token)`,
    'end',
    'function response(status, headers, body)',
    '  if status ~= 200 then return end',
    `  local token = body:match('"${field}"%s*:%s*"([^"]+)"')`,
    '  if token then last = last + 1; pool[last] = token:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end) end',
    'end',
  ];
}

/**
 * wrk's Lua hook for a RotatingHeader: the values are written into the script
 * (JSON string literals are valid Lua ones for the printable ASCII that header
 * values are), and each request sets the next one in wrk.headers.
 */
function rotationScript(rotate: RotatingHeader): string[] {
  if (rotate.values.length === 0) throw new Error(`a rotating header needs values: ${rotate.name}`);
  if (![rotate.name, ...rotate.values].every((text) => /^[\x20-\x7e]*$/.test(text)))
    throw new Error(`a rotating header's name and values must be printable ASCII: ${rotate.name}`);
  return [
    `local values = { ${rotate.values.map((value) => JSON.stringify(value)).join(', ')} }`,
    'local turn = 0',
    'function request()',
    '  turn = turn % #values + 1',
    `  wrk.headers[${JSON.stringify(rotate.name)}] = values[turn]`,
    '  return wrk.format()',
    'end',
  ];
}

function parseWrk(output: string, concurrency: number, cpuMs: number): LoadResult {
  const milliseconds = (label: string) => {
    const match = new RegExp(`^\\s+${label}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
    if (!match) throw new Error(`wrk printed no ${label}th percentile:\n${output}`);
    const unit = match[2] === 'us' ? 0.001 : match[2] === 's' ? 1000 : 1;
    return Number(match[1]) * unit;
  };
  const summary = /(\d+) requests in ([\d.]+)(ms|s|m),/.exec(output);
  const requests = Number(summary?.[1]);
  const seconds = Number(summary?.[2]) * (summary?.[3] === 'ms' ? 0.001 : summary?.[3] === 'm' ? 60 : 1);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = Number(non2xx?.[1] ?? 0) + (socket ? socket.slice(1).reduce((sum, value) => sum + Number(value), 0) : 0);
  if (!Number.isFinite(requests) || !Number.isFinite(seconds)) throw new Error(`could not read wrk's output:\n${output}`);
  return {
    concurrency,
    requests,
    errors,
    seconds: round(seconds, 2),
    perSecond: round((requests - errors) / seconds, 0),
    p50Ms: round(milliseconds('50'), 2),
    p99Ms: round(milliseconds('99'), 2),
    loadGeneratorCores: round(cpuMs / 1000 / seconds, 2),
  };
}

/** utime + stime of one process, in ms (Linux /proc, clock ticks of 10 ms). */
async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 10;
}
