import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, stdSerializers, type DestinationStream } from 'pino';

/** Structured context for one log line: a request's route, an error (as `err`), a count. */
export type LogFields = Record<string, unknown>;

/**
 * What the rest of Gatehouse logs through. Callers never pass tokens, secrets,
 * passwords or query strings (which can carry codes); the JSON logger redacts
 * the usual field names as a second line of defence.
 */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /**
   * An access-log line at level info: its fields are a fixed set built by
   * access-log.ts (request id, method, route template, status, duration,
   * client id), none of them a secret, so the JSON logger skips redaction
   * for it (the most frequent line: ~8 µs of CPU each, measured). Loggers
   * without it get `info`.
   */
  access?(message: string, fields: LogFields): void;
  /** Writes out what is buffered, at once (before a line on stderr that must come last). */
  flush?(): void;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The request a line is logged for. The access-log middleware opens it;
 * oidc-provider's hooks fill in the client once authenticated. Every line
 * logged while a request runs carries its request id.
 */
export interface RequestContext {
  readonly requestId: string;
  clientId?: string;
}

/** What holds a request's context: its Koa context (`ctx.state.requestContext`). */
export interface RequestContextHolder {
  readonly state: { requestContext?: RequestContext };
}

/**
 * The store that follows each request through its awaits. Once the server
 * has built its oidc-provider, it is the engine's own (`keepRequestContextIn`):
 * on Node 20 every AsyncLocalStorage adds work and memory to every promise of
 * every request (async_hooks), so Gatehouse does not add a second one. Until
 * then (the CLI, tests of pieces) it is one of log.ts's own.
 */
let requests = new AsyncLocalStorage<RequestContextHolder>();

/** From now on request contexts are kept in `store` (see `requests`). */
export function keepRequestContextIn(store: AsyncLocalStorage<unknown>): void {
  requests = store as AsyncLocalStorage<RequestContextHolder>;
}

export function runInRequestContext<T>(holder: RequestContextHolder, run: () => T): T {
  return requests.run(holder, run);
}

/** The request being served, if any. */
export function currentRequest(): RequestContext | undefined {
  return requests.getStore()?.state?.requestContext;
}

/**
 * Field names that never reach the log, at the top level and one level down
 * (`{ body: { password } }`). `err.code` (ECONNREFUSED, P2002) stays.
 */
const REDACTED = [
  'password',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'device_code',
  'user_code',
  'client_secret',
  'secret',
  'cookie',
  'authorization',
  'query',
  'querystring',
];
const REDACT_PATHS = [
  ...REDACTED.flatMap((name) => [name, `*.${name}`]),
  'code',
  'body.code',
  'params.code',
  'headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
];

export interface JsonLoggerOptions {
  readonly level?: LogLevel;
  /** Where the JSON lines go; stdout by default. */
  readonly destination?: DestinationStream;
}

/**
 * How log lines reach stdout: asynchronously, in batches. A line waits in
 * memory until 4 KiB have gathered (some 15 access-log lines) or a quarter
 * of a second has passed, and goes out with the others in one write(2) on
 * libuv's thread pool, instead of one write per line: per line, the write
 * cost the request thread ~7 µs and put a job on the pool that signs tokens
 * (profiled in docs/performance.md). What is buffered is flushed
 * synchronously when the process exits. If stdout stalls (a full pipe, a
 * stuck collector), the buffer stops at 16 MiB and further lines are
 * dropped, not kept without bound.
 */
const STDOUT_BUFFERING = { dest: 1, sync: false, minLength: 4096, periodicFlush: 250, maxLength: 16 * 1024 * 1024 } as const;

/**
 * JSON lines (pino): `{"level":"info","time":"…","requestId":"…","msg":"…",…}`.
 * An error goes in as `{ err }` and comes out as one field with its type,
 * message and stack, never as a multi-line dump. For reading in a terminal,
 * pipe through `npx pino-pretty`.
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const destination = options.destination ?? pino.destination(STDOUT_BUFFERING);
  const common = {
    level: options.level ?? 'info',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  const logger = pino(
    {
      ...common,
      mixin: () => {
        const request = currentRequest();
        if (!request) return {};
        return request.clientId ? { requestId: request.requestId, clientId: request.clientId } : { requestId: request.requestId };
      },
      serializers: { err: stdSerializers.err, error: stdSerializers.err },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
  // The same destination, without redaction and without the request mixin
  // (an access line carries its request id and client among its own fields):
  // only for access-log lines (see Logger.access).
  const accessLogger = pino(common, destination);
  const write = (level: 'info' | 'warn' | 'error') => (message: string, fields?: LogFields) => {
    if (fields) logger[level](fields, message);
    else logger[level](message);
  };
  return {
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    access: (message, fields) => accessLogger.info(fields, message),
    flush: () => {
      try {
        (destination as { flushSync?: () => void }).flushSync?.();
      } catch {
        // Not writable yet or any more: pino flushes at exit as well.
      }
    },
  };
}

/** The server's logger: JSON lines on stdout at level info. */
export function createConsoleLogger(level: LogLevel = 'info'): Logger {
  return createJsonLogger({ level });
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
