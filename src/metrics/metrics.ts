import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Gatehouse's Prometheus metrics. One registry per process; anything may
 * record into it (`recordLogin('failure')`) whether or not the metrics
 * listener is on, which costs a counter increment. Label values are always
 * from a closed set, so a caller (or an attacker's request) cannot blow up the
 * number of series.
 */
export const registry = new Registry();

let defaultMetricsOn = false;
/** Process metrics (CPU, memory, event loop lag, GC): started with the listener. */
export function collectProcessMetrics(): void {
  if (defaultMetricsOn) return;
  defaultMetricsOn = true;
  collectDefaultMetrics({ register: registry });
}

const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']);
const grantLabel = (grantType: unknown) => (typeof grantType === 'string' && GRANT_TYPES.has(grantType) ? grantType : 'other');
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const tokensIssued = new Counter({
  name: 'gatehouse_tokens_issued_total',
  help: 'Successful token endpoint responses, by grant type.',
  labelNames: ['grant_type'],
  registers: [registry],
});
const tokenErrors = new Counter({
  name: 'gatehouse_token_errors_total',
  help: 'Token endpoint errors, by grant type and OAuth error code (RFC 6749 §5.2).',
  labelNames: ['grant_type', 'error'],
  registers: [registry],
});
const logins = new Counter({
  name: 'gatehouse_logins_total',
  help: 'Sign-in attempts with a password, by result.',
  labelNames: ['result'],
  registers: [registry],
});
for (const result of ['success', 'failure', 'throttled']) logins.inc({ result }, 0);
const refreshReuse = new Counter({
  name: 'gatehouse_refresh_reuse_detected_total',
  help: 'Consumed refresh tokens presented again (RFC 9700 §4.14.2); each revoked its grant.',
  registers: [registry],
});
const requestDuration = new Histogram({
  name: 'gatehouse_http_request_duration_seconds',
  help: 'HTTP request duration, by route template, method and status.',
  labelNames: ['route', 'method', 'status'],
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const passwordHashQueue = new Gauge({
  name: 'gatehouse_password_hash_queue_depth',
  help: 'argon2 computations waiting for a free slot (the limit is one per core).',
  registers: [registry],
});

/** The seed of the sources the gauges below read at scrape time, one per running server. */
export interface MetricSources {
  /** The current key's age and when the next rotation falls due, from the database. */
  signingKeys(): Promise<{ ageSeconds: number; nextRotation: Date } | undefined>;
  /** The pg pool behind Prisma. */
  pool(): { total: number; idle: number; waiting: number };
}
const sources = new Set<MetricSources>();

new Gauge({
  name: 'gatehouse_signing_key_age_seconds',
  help: 'Seconds since the current signing key started signing.',
  registers: [registry],
  async collect() {
    const keys = await firstSource()?.signingKeys();
    if (keys) this.set(keys.ageSeconds);
  },
});
new Gauge({
  name: 'gatehouse_signing_key_next_rotation_timestamp_seconds',
  help: 'Unix time at which the scheduled rotation is due (in the past: overdue).',
  registers: [registry],
  async collect() {
    const keys = await firstSource()?.signingKeys();
    if (keys) this.set(keys.nextRotation.getTime() / 1000);
  },
});
new Gauge({
  name: 'gatehouse_db_pool_connections',
  help: 'Postgres connections of the pool, by state: idle, active (checked out), waiting (requests queued for one).',
  labelNames: ['state'],
  registers: [registry],
  collect() {
    let total = 0;
    let idle = 0;
    let waiting = 0;
    for (const source of sources) {
      const pool = source.pool();
      total += pool.total;
      idle += pool.idle;
      waiting += pool.waiting;
    }
    this.set({ state: 'idle' }, idle);
    this.set({ state: 'active' }, total - idle);
    this.set({ state: 'waiting' }, waiting);
  },
});

function firstSource(): MetricSources | undefined {
  return sources.values().next().value;
}

/** A running server's gauges; returns the function that removes them at stop. */
export function registerMetricSources(source: MetricSources): () => void {
  sources.add(source);
  return () => void sources.delete(source);
}

export function recordTokenIssued(grantType: unknown): void {
  tokensIssued.inc({ grant_type: grantLabel(grantType) });
}

export function recordTokenError(grantType: unknown, error: string): void {
  tokenErrors.inc({ grant_type: grantLabel(grantType), error: /^[a-z_]{1,64}$/.test(error) ? error : 'other' });
}

export type LoginResult = 'success' | 'failure' | 'throttled';

/** One sign-in with a password: right, wrong (unknown user or bad password alike), or refused by throttling. */
export function recordLogin(result: LoginResult): void {
  logins.inc({ result });
}

export function recordRefreshReuse(): void {
  refreshReuse.inc();
}

export function observeRequest(route: string, method: string, status: number, seconds: number): void {
  requestDuration.observe({ route, method: METHODS.has(method) ? method : 'other', status: String(status) }, seconds);
}

/** +1 when a password hash waits for a slot, -1 when it gets one. */
export function changePasswordHashQueueDepth(delta: number): void {
  passwordHashQueue.inc(delta);
}
