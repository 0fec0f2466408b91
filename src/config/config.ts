import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { readSettingFiles, unknownSettingWarnings } from './environment-files.js';

const DAY = 86400;

/** Seconds from `900`, `900s`, `15m`, `12h` or `30d`, at most `max` seconds. */
export const duration = (max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+[smhd]?$/, 'must be a duration such as 900, 15m, 12h or 30d')
    .transform((value) => {
      const unit = value.at(-1) ?? '';
      const factor = { s: 1, m: 60, h: 3600, d: 86400 }[unit] ?? 1;
      return Number.parseInt(value, 10) * factor;
    })
    .pipe(z.number().int().positive('must be greater than zero').max(max, `must be at most ${max} seconds`));

/** Like `duration`, but 0 is allowed (it switches the feature off). */
const durationOrOff = (max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+[smhd]?$/, 'must be a duration such as 0, 30, 30s or 2m')
    .transform((value) => Number.parseInt(value, 10) * ({ s: 1, m: 60, h: 3600, d: 86400 }[value.at(-1) ?? ''] ?? 1))
    .pipe(z.number().int().min(0).max(max, `must be at most ${max} seconds`));

// Lifetimes up to a year; timer intervals up to a day (setInterval overflows past 24.8 days).
const lifetime = duration(365 * DAY);
const interval = duration(DAY);

const integer = (min: number, max: number) =>
  z.coerce
    .number({ error: (issue) => (issue.code === 'invalid_type' ? 'must be a number' : undefined) })
    .int('must be an integer')
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

/**
 * Every setting Gatehouse reads, from environment variables. Each documents
 * itself here, in the doc comment above it: `npm run docs:config` turns these
 * into docs/configuration.md (a `@default` tag names a default the schema
 * computes elsewhere). Any setting NAME may instead come from a file named
 * by NAME_FILE (secrets mounted by Docker or Kubernetes): see
 * environment-files.ts.
 */
export const environmentSchema = z
  .object({
    /** TCP port of the HTTP server. */
    PORT: integer(0, 65535).default(3000),
    /** Address to bind. */
    HOST: z.string().min(1).default('0.0.0.0'),
    /**
     * Public issuer URL, as clients see it in discovery and tokens (trailing
     * slash removed). HSTS is sent when it is `https`.
     * @default http://localhost:$PORT
     */
    ISSUER: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      // OpenID Connect Discovery §3 / RFC 8414 §2: an issuer has no query or fragment.
      .refine((value) => !/[?#]/.test(value), 'must not have a query or fragment')
      .optional(),
    /** `postgres://` or `postgresql://` URL. Unset: the embedded Postgres in the data directory. */
    DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }).optional(),
    /**
     * Longest a database query may run (`pg` `query_timeout` and Postgres
     * `statement_timeout`). A request that needs a stalled database then fails
     * with 503 `temporarily_unavailable` and `Retry-After` instead of hanging.
     */
    GATEHOUSE_DATABASE_TIMEOUT: duration(300).default(5),
    /** Longest to wait for a database connection: connecting, or a free one from the pool. */
    GATEHOUSE_DATABASE_CONNECT_TIMEOUT: duration(300).default(5),
    /**
     * At start, how long to keep retrying (with back-off, logging each
     * attempt) a `DATABASE_URL` that refuses connections or does not resolve,
     * so a container that starts before its database waits for it. `0`: fail
     * at once.
     */
    GATEHOUSE_DATABASE_WAIT: durationOrOff(3600).default(30),
    /**
     * Deadline of a graceful stop (SIGTERM, SIGINT). Past it, open connections
     * are cut and the process exits 1, naming what did not close.
     */
    GATEHOUSE_SHUTDOWN_TIMEOUT: duration(3600).default(10),
    /**
     * How long an idle keep-alive connection stays open after its last
     * answer. A proxy or load balancer in front must close its pooled
     * connections first (shorter idle timeout), or a request it sends on a
     * connection Gatehouse is closing fails with a 502: the default outlasts
     * nginx's and AWS ALB's 60 s and Caddy's 2 minutes (Node's own is 5 s).
     */
    GATEHOUSE_KEEP_ALIVE_TIMEOUT: duration(3600).default(125),
    /** Holds the embedded Postgres (`postgres/`, `postgres-password`) and the generated secret (`secret`). */
    GATEHOUSE_DATA_DIR: z.string().min(1).default('./.data'),
    /**
     * Master secret, at least 32 characters. Cookie keys, the client-secret
     * hashing key, the key that encrypts signing keys and the CSRF key are
     * derived from it. Unset: a generated one in `<data dir>/secret` (refused
     * with `NODE_ENV=production`).
     */
    GATEHOUSE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /**
     * With `GATEHOUSE_ADMIN_PASSWORD` (both or neither): ensure this user
     * exists at start, with the `admin` role, enabled, and this password.
     */
    GATEHOUSE_ADMIN_EMAIL: z.email('must be an email address').optional(),
    /** The password of `GATEHOUSE_ADMIN_EMAIL`: at least 12 characters. */
    GATEHOUSE_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
    /**
     * With `GATEHOUSE_ADMIN_CLIENT_SECRET` (both or neither): ensure at every
     * start a confidential client with exactly these credentials, allowed
     * `client_credentials` for the admin API with scope `admin` (a changed
     * secret replaces the old). Without them, the first start creates
     * `gatehouse-admin` and shows its secret once: on the terminal when stdout
     * is one, else (containers) in `<data dir>/admin-client-credentials.txt`
     * (mode 0600; the log says where, never the secret).
     */
    GATEHOUSE_ADMIN_CLIENT_ID: z
      .string()
      .regex(/^[\w.:-]{3,128}$/, 'must be 3-128 characters of letters, digits, _ . : -')
      .optional(),
    /** The secret of `GATEHOUSE_ADMIN_CLIENT_ID`: at least 32 characters. */
    GATEHOUSE_ADMIN_CLIENT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    /**
     * `true`/`1` to trust `X-Forwarded-*` headers, behind one TLS-terminating
     * proxy (the client IP is the last `X-Forwarded-For` hop).
     */
    GATEHOUSE_TRUST_PROXY: flag.default(false),
    /** Port of the embedded Postgres; `0` picks a free one at each start, in 20000-32767 (below the ports operating systems give outgoing connections). */
    GATEHOUSE_EMBEDDED_PG_PORT: integer(0, 65535).default(0),
    /** RSA key size (`2048`, `3072` or `4096`) of signing keys generated from now on. */
    GATEHOUSE_SIGNING_KEY_BITS: z.enum(['2048', '3072', '4096']).default('2048').transform(Number),
    /**
     * Lifetime of opaque access tokens. JWT access tokens for an API use that
     * API's lifetime (600 s unless registered with `--ttl`).
     */
    GATEHOUSE_ACCESS_TOKEN_TTL: lifetime.default(3600),
    /** Lifetime of ID tokens. */
    GATEHOUSE_ID_TOKEN_TTL: lifetime.default(3600),
    /** Lifetime of authorization codes. */
    GATEHOUSE_AUTHORIZATION_CODE_TTL: lifetime.default(60),
    /** Absolute lifetime of a refresh token family (and of the grant): rotation never extends past it. */
    GATEHOUSE_REFRESH_TOKEN_TTL: lifetime.default(30 * 86400),
    /** A refresh token unused this long expires. Must not exceed `GATEHOUSE_REFRESH_TOKEN_TTL`. */
    GATEHOUSE_REFRESH_TOKEN_IDLE_TTL: lifetime.default(14 * 86400),
    /**
     * How long the client may present a just-rotated refresh token again and
     * get the same successor back (a retry after a lost response, concurrent
     * refreshes), instead of the grant being revoked. `0` turns it off: any
     * reuse revokes the grant. At most `5m`.
     */
    GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: durationOrOff(300).default(30),
    /** Lifetime of the browser session at Gatehouse (signed in without re-entering the password). */
    GATEHOUSE_SESSION_TTL: lifetime.default(14 * 86400),
    /** How long a login/consent page stays valid. */
    GATEHOUSE_INTERACTION_TTL: lifetime.default(3600),
    /** How long the admin console (`/console`) stays signed in without a request; then it asks to sign in again. */
    GATEHOUSE_CONSOLE_IDLE_TIMEOUT: duration(DAY).default(1800),
    /** How long a signing key signs before the schedule rotates it. */
    GATEHOUSE_KEY_ROTATION_INTERVAL: lifetime.default(30 * 86400),
    /**
     * How long a `next` key is published in the JWKS before it may sign. Must
     * be longer than `GATEHOUSE_JWKS_MAX_AGE` + `GATEHOUSE_KEY_CHECK_INTERVAL`.
     */
    GATEHOUSE_KEY_PUBLISH_LEAD: lifetime.default(86400),
    /** `Cache-Control: public, max-age=N` of `/jwks`. */
    GATEHOUSE_JWKS_MAX_AGE: lifetime.default(600),
    /**
     * How often each instance checks the rotation schedule and re-reads the
     * keys (a safety net; changes normally arrive within a second through
     * Postgres `LISTEN/NOTIFY`).
     */
    GATEHOUSE_KEY_CHECK_INTERVAL: interval.default(60),
    /** How long a device code and its user code stay valid (RFC 8628 `expires_in`). */
    GATEHOUSE_DEVICE_CODE_TTL: interval.default(600),
    /**
     * The polling `interval` devices are told (RFC 8628 §3.2); polling sooner
     * answers `slow_down` and adds 5 seconds to that device's interval (§3.5).
     */
    GATEHOUSE_DEVICE_POLL_INTERVAL: interval.default(5),
    /**
     * Wrong user codes allowed per client IP and per browser session within
     * the window (RFC 8628 §5.1); then the page refuses entries (429) until
     * the window has passed.
     */
    GATEHOUSE_DEVICE_USER_CODE_ATTEMPTS: integer(1, 10_000).default(10),
    /** The sliding window of `GATEHOUSE_DEVICE_USER_CODE_ATTEMPTS`. */
    GATEHOUSE_DEVICE_USER_CODE_WINDOW: interval.default(300),
    /** Upper bound on any access token's lifetime, whatever an API asks for. */
    GATEHOUSE_MAX_ACCESS_TOKEN_TTL: lifetime.default(3600),
    /**
     * How long a cached client or API may be used without asking Postgres.
     * Changes reach every instance at once via LISTEN/NOTIFY; this is the
     * safety net if a notification is lost.
     */
    GATEHOUSE_CACHE_TTL: interval.default(30),
    /** How often expired protocol rows are deleted. */
    GATEHOUSE_CLEANUP_INTERVAL: interval.default(600),
    /**
     * Shortest user password accepted (8 to 128; NIST SP 800-63B: at least 8);
     * a password may not be the email either.
     */
    GATEHOUSE_PASSWORD_MIN_LENGTH: integer(8, 128).default(12),
    /** Least zxcvbn strength score (0-4) a new password needs; common passwords, names and repeats score low. */
    GATEHOUSE_PASSWORD_MIN_SCORE: integer(0, 4).default(3),
    /** Sign-in throttling: consecutive failures per account before each further attempt must wait. */
    GATEHOUSE_LOGIN_FREE_FAILURES: integer(1, 1000).default(5),
    /** Sign-in throttling: the first wait after those failures; it doubles with each further failure. */
    GATEHOUSE_LOGIN_FIRST_DELAY: interval.default(1),
    /** Sign-in throttling: the longest wait. */
    GATEHOUSE_LOGIN_MAX_DELAY: interval.default(900),
    /** Sign-in throttling: failed sign-ins allowed per client IP per hour, across any accounts. */
    GATEHOUSE_LOGIN_IP_FAILURES: integer(1, 1_000_000).default(100),
    /** Failed admin API authentications looked at per client IP per minute; more get 429 (each IP's failures are one audit event a minute). */
    GATEHOUSE_ADMIN_AUTH_FAILURES: integer(1, 100_000).default(20),
    /** Sign-ins (GET/POST /auth) and device authorizations (/device/auth) started per client IP per minute; more get 429. */
    GATEHOUSE_FLOW_STARTS_PER_IP: integer(1, 1_000_000).default(100),
    /** How long audit events are kept; the cleanup job deletes older ones. */
    GATEHOUSE_EVENT_RETENTION: lifetime.default(90 * DAY),
    /** SMTP server for email (password reset, verification), e.g. smtp://user:pass@mail.example.com:587. Unset: .eml files in $GATEHOUSE_DATA_DIR/outbox (none in production). */
    GATEHOUSE_SMTP_URL: z.url({ protocol: /^smtps?$/, error: 'must be an smtp:// or smtps:// URL' }).optional(),
    /** The From of Gatehouse's emails. Default: Gatehouse <no-reply@the issuer's host>. */
    GATEHOUSE_EMAIL_FROM: z.string().trim().min(3).max(320).optional(),
    /** How long a password reset link works. */
    GATEHOUSE_PASSWORD_RESET_TTL: interval.default(1800),
    /** How long an email verification link works. */
    GATEHOUSE_EMAIL_VERIFICATION_TTL: lifetime.default(3 * DAY),
    /** Self-registration: `open` links "Create an account" from the login page; `off` (default) lets only admins create users. */
    GATEHOUSE_REGISTRATION: z.enum(['open', 'off']).default('off'),
    /** Second factors: `off` (never asked), `optional` (default: users who set one up are asked for it), `required` (everyone; users without one set it up at their next sign-in). */
    GATEHOUSE_MFA: z.enum(['off', 'optional', 'required']).default('optional'),
    /** `required`: users with the `admin` role must use a second factor (setting one up at their next sign-in), whatever GATEHOUSE_MFA says (except `off`). Default `optional`: like everyone else. */
    GATEHOUSE_ADMIN_MFA: z.enum(['required', 'optional']).default('optional'),
    /** WebAuthn relying party id for passkeys: the issuer's host (default) or a registrable suffix of it (e.g. example.com for id.example.com). */
    GATEHOUSE_WEBAUTHN_RP_ID: z
      .string()
      .regex(/^[a-z0-9.-]{1,253}$/, 'must be a host name')
      .optional(),
    /** argon2id memory cost in KiB for user passwords (8192 to 4194304; OWASP: 19 MiB). */
    GATEHOUSE_ARGON2_MEMORY_KIB: integer(8192, 4 * 1024 * 1024).default(19456),
    /** argon2id iterations (1 to 100). */
    GATEHOUSE_ARGON2_TIME_COST: integer(1, 100).default(2),
    /** argon2id lanes (1 to 64). */
    GATEHOUSE_ARGON2_PARALLELISM: integer(1, 64).default(1),
    /** Back-Channel Logout: deliveries of a logout token to a client that fails or times out, first try included. */
    GATEHOUSE_BACKCHANNEL_LOGOUT_ATTEMPTS: integer(1, 20).default(3),
    /** Back-Channel Logout: wait before the first retry; it doubles for each later one. Also how often queued tokens are looked for. */
    GATEHOUSE_BACKCHANNEL_LOGOUT_RETRY_DELAY: interval.default(5),
    /** Timeout of each outgoing HTTP request (back-channel logout tokens, clients' jwks_uri). */
    GATEHOUSE_OUTBOUND_TIMEOUT: interval.default(5),
    /**
     * Let outgoing requests reach loopback and private-network addresses
     * (apps in the same cluster). Off by default: oidc-provider refuses them
     * to prevent server-side request forgery.
     */
    GATEHOUSE_OUTBOUND_PRIVATE_NETWORKS: flag.default(false),
    /** Least severe log level written (JSON lines on stdout): fatal, error, warn, info, debug, trace or silent. */
    GATEHOUSE_LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    /** Port of the Prometheus endpoint (GET /metrics), a listener of its own. Unset: no metrics listener. */
    GATEHOUSE_METRICS_PORT: integer(0, 65535).optional(),
    /** Address the metrics listener binds; loopback unless a scraper elsewhere needs it (e.g. 0.0.0.0 in Kubernetes). */
    GATEHOUSE_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /**
     * `production` refuses to start without `GATEHOUSE_SECRET`, and strips
     * admin API responses to their schema instead of failing on a mismatch.
     */
    NODE_ENV: z.string().default('development'),
  })
  .refine(
    (env) => {
      // WebAuthn §5.1.4.1: the RP ID is the origin's host or a registrable suffix of it.
      if (!env.GATEHOUSE_WEBAUTHN_RP_ID) return true;
      const host = URL.canParse(env.ISSUER ?? '') ? new URL(env.ISSUER as string).hostname : 'localhost';
      return host === env.GATEHOUSE_WEBAUTHN_RP_ID || host.endsWith(`.${env.GATEHOUSE_WEBAUTHN_RP_ID}`);
    },
    { path: ['GATEHOUSE_WEBAUTHN_RP_ID'], message: "must be the issuer's host or a domain it is under" },
  )
  .refine((env) => Boolean(env.GATEHOUSE_ADMIN_EMAIL) === Boolean(env.GATEHOUSE_ADMIN_PASSWORD), {
    path: ['GATEHOUSE_ADMIN_PASSWORD'],
    message: 'GATEHOUSE_ADMIN_EMAIL and GATEHOUSE_ADMIN_PASSWORD must be set together',
  })
  .refine((env) => Boolean(env.GATEHOUSE_ADMIN_CLIENT_ID) === Boolean(env.GATEHOUSE_ADMIN_CLIENT_SECRET), {
    path: ['GATEHOUSE_ADMIN_CLIENT_SECRET'],
    message: 'GATEHOUSE_ADMIN_CLIENT_ID and GATEHOUSE_ADMIN_CLIENT_SECRET must be set together',
  })
  .refine((env) => env.GATEHOUSE_REFRESH_TOKEN_IDLE_TTL <= env.GATEHOUSE_REFRESH_TOKEN_TTL, {
    path: ['GATEHOUSE_REFRESH_TOKEN_IDLE_TTL'],
    message: 'must not exceed GATEHOUSE_REFRESH_TOKEN_TTL',
  })
  // An instance that missed a notification publishes a new key up to one
  // check interval late; caches hold the JWKS for max-age on top of that.
  .refine((env) => env.GATEHOUSE_JWKS_MAX_AGE + env.GATEHOUSE_KEY_CHECK_INTERVAL < env.GATEHOUSE_KEY_PUBLISH_LEAD, {
    path: ['GATEHOUSE_KEY_PUBLISH_LEAD'],
    message: 'must be longer than GATEHOUSE_JWKS_MAX_AGE + GATEHOUSE_KEY_CHECK_INTERVAL, so every cached JWKS knows a key before it signs',
  })
  .refine((env) => env.NODE_ENV !== 'production' || env.GATEHOUSE_SECRET, {
    path: ['GATEHOUSE_SECRET'],
    message: 'is required when NODE_ENV=production',
  });

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly issuer: string;
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  /** Seconds: query/statement timeout, connect/acquire timeout, and how long start-up waits for DATABASE_URL. */
  readonly database: { readonly queryTimeout: number; readonly connectTimeout: number; readonly wait: number };
  /** Seconds; see GATEHOUSE_SHUTDOWN_TIMEOUT. */
  readonly shutdownTimeout: number;
  /** Seconds; see GATEHOUSE_KEEP_ALIVE_TIMEOUT. */
  readonly keepAliveTimeout: number;
  /** Undefined means "use or create the dev secret file in the data dir". */
  readonly secret: string | undefined;
  readonly admin: { readonly email: string; readonly password: string } | undefined;
  readonly adminClient: { readonly clientId: string; readonly secret: string } | undefined;
  readonly trustProxy: boolean;
  readonly embeddedPostgresPort: number;
  readonly signingKeyBits: number;
  readonly ttl: {
    readonly accessToken: number;
    readonly idToken: number;
    readonly authorizationCode: number;
    readonly refreshToken: number;
    readonly refreshTokenIdle: number;
    /** Seconds; 0 = off. See GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE. */
    readonly refreshTokenReuseGrace: number;
    readonly session: number;
    readonly interaction: number;
    /** Seconds; see GATEHOUSE_CONSOLE_IDLE_TIMEOUT. */
    readonly consoleIdle: number;
  };
  readonly keys: {
    readonly rotationInterval: number;
    readonly publishLead: number;
    readonly jwksMaxAge: number;
    readonly checkInterval: number;
  };
  readonly deviceFlow: {
    readonly codeTtl: number;
    readonly pollInterval: number;
    readonly userCodeAttempts: number;
    readonly userCodeWindow: number;
  };
  readonly cleanupIntervalSeconds: number;
  /** Seconds; see GATEHOUSE_MAX_ACCESS_TOKEN_TTL. */
  readonly maxAccessTokenTtl: number;
  /** Seconds; see GATEHOUSE_CACHE_TTL. */
  readonly cacheTtlSeconds: number;
  readonly argon2: { readonly memoryCost: number; readonly timeCost: number; readonly parallelism: number };
  readonly passwordMinLength: number;
  readonly backchannelLogout: { readonly attempts: number; readonly retryDelaySeconds: number };
  readonly outbound: { readonly timeoutSeconds: number; readonly allowPrivateNetworks: boolean };
  readonly passwordMinScore: number;
  readonly email: {
    readonly smtpUrl: string | undefined;
    readonly from: string;
    /** Seconds a reset link works. */
    readonly passwordResetTtl: number;
    /** Seconds a verification link works. */
    readonly verificationTtl: number;
    readonly production: boolean;
  };
  readonly registrationOpen: boolean;
  readonly mfa: { readonly mode: 'off' | 'optional' | 'required'; readonly admins: 'required' | 'optional'; readonly rpId: string };
  readonly adminAuthFailuresPerMinute: number;
  readonly flowStartsPerIpPerMinute: number;
  /** Seconds audit events are kept. */
  readonly eventRetention: number;
  readonly loginThrottle: {
    readonly freeFailures: number;
    readonly firstDelay: number;
    readonly maxDelay: number;
    readonly ipFailures: number;
  };
  readonly logLevel: LogLevel;
  /** Undefined: no metrics listener. */
  readonly metrics: { readonly port: number; readonly host: string } | undefined;
  /** NODE_ENV=production: admin API responses are stripped to their schema rather than checked strictly. */
  readonly production: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The names of all settings, as environment variables. */
export const SETTINGS: readonly string[] = Object.freeze(Object.keys(environmentSchema.shape));

/** Warnings to log at start: GATEHOUSE_* variables that are not settings (typos), with the closest setting. */
export function configWarnings(environment: Record<string, string | undefined>): string[] {
  return unknownSettingWarnings(environment, SETTINGS);
}

/** Parses the environment once; throws a ConfigError naming the first bad variable. */
export function loadConfig(environment: Record<string, string | undefined>): Config {
  // An empty variable means "unset", as in most twelve-factor apps.
  const given = Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== ''));
  const present = readSettingFiles(given, SETTINGS);
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    const given = present[name];
    const shown = given === undefined || /SECRET|PASSWORD|DATABASE_URL|SMTP/.test(name) ? '' : ` (got ${JSON.stringify(given)})`;
    throw new ConfigError(`${name} ${issue?.message ?? 'is invalid'}${shown}`);
  }
  const env = parsed.data;
  const config: Config = {
    port: env.PORT,
    host: env.HOST,
    issuer: (env.ISSUER ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL,
    dataDir: env.GATEHOUSE_DATA_DIR,
    database: {
      queryTimeout: env.GATEHOUSE_DATABASE_TIMEOUT,
      connectTimeout: env.GATEHOUSE_DATABASE_CONNECT_TIMEOUT,
      wait: env.GATEHOUSE_DATABASE_WAIT,
    },
    shutdownTimeout: env.GATEHOUSE_SHUTDOWN_TIMEOUT,
    keepAliveTimeout: env.GATEHOUSE_KEEP_ALIVE_TIMEOUT,
    secret: env.GATEHOUSE_SECRET,
    admin:
      env.GATEHOUSE_ADMIN_EMAIL && env.GATEHOUSE_ADMIN_PASSWORD
        ? { email: env.GATEHOUSE_ADMIN_EMAIL, password: env.GATEHOUSE_ADMIN_PASSWORD }
        : undefined,
    adminClient:
      env.GATEHOUSE_ADMIN_CLIENT_ID && env.GATEHOUSE_ADMIN_CLIENT_SECRET
        ? { clientId: env.GATEHOUSE_ADMIN_CLIENT_ID, secret: env.GATEHOUSE_ADMIN_CLIENT_SECRET }
        : undefined,
    trustProxy: env.GATEHOUSE_TRUST_PROXY,
    embeddedPostgresPort: env.GATEHOUSE_EMBEDDED_PG_PORT,
    signingKeyBits: env.GATEHOUSE_SIGNING_KEY_BITS,
    ttl: {
      accessToken: env.GATEHOUSE_ACCESS_TOKEN_TTL,
      idToken: env.GATEHOUSE_ID_TOKEN_TTL,
      authorizationCode: env.GATEHOUSE_AUTHORIZATION_CODE_TTL,
      refreshToken: env.GATEHOUSE_REFRESH_TOKEN_TTL,
      refreshTokenIdle: env.GATEHOUSE_REFRESH_TOKEN_IDLE_TTL,
      refreshTokenReuseGrace: env.GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE,
      session: env.GATEHOUSE_SESSION_TTL,
      interaction: env.GATEHOUSE_INTERACTION_TTL,
      consoleIdle: env.GATEHOUSE_CONSOLE_IDLE_TIMEOUT,
    },
    keys: {
      rotationInterval: env.GATEHOUSE_KEY_ROTATION_INTERVAL,
      publishLead: env.GATEHOUSE_KEY_PUBLISH_LEAD,
      jwksMaxAge: env.GATEHOUSE_JWKS_MAX_AGE,
      checkInterval: env.GATEHOUSE_KEY_CHECK_INTERVAL,
    },
    deviceFlow: {
      codeTtl: env.GATEHOUSE_DEVICE_CODE_TTL,
      pollInterval: env.GATEHOUSE_DEVICE_POLL_INTERVAL,
      userCodeAttempts: env.GATEHOUSE_DEVICE_USER_CODE_ATTEMPTS,
      userCodeWindow: env.GATEHOUSE_DEVICE_USER_CODE_WINDOW,
    },
    cleanupIntervalSeconds: env.GATEHOUSE_CLEANUP_INTERVAL,
    maxAccessTokenTtl: env.GATEHOUSE_MAX_ACCESS_TOKEN_TTL,
    cacheTtlSeconds: env.GATEHOUSE_CACHE_TTL,
    passwordMinLength: env.GATEHOUSE_PASSWORD_MIN_LENGTH,
    backchannelLogout: {
      attempts: env.GATEHOUSE_BACKCHANNEL_LOGOUT_ATTEMPTS,
      retryDelaySeconds: env.GATEHOUSE_BACKCHANNEL_LOGOUT_RETRY_DELAY,
    },
    outbound: { timeoutSeconds: env.GATEHOUSE_OUTBOUND_TIMEOUT, allowPrivateNetworks: env.GATEHOUSE_OUTBOUND_PRIVATE_NETWORKS },
    passwordMinScore: env.GATEHOUSE_PASSWORD_MIN_SCORE,
    email: {
      smtpUrl: env.GATEHOUSE_SMTP_URL,
      from: env.GATEHOUSE_EMAIL_FROM ?? `Gatehouse <no-reply@${new URL(env.ISSUER ?? 'http://localhost').hostname}>`,
      passwordResetTtl: env.GATEHOUSE_PASSWORD_RESET_TTL,
      verificationTtl: env.GATEHOUSE_EMAIL_VERIFICATION_TTL,
      production: env.NODE_ENV === 'production',
    },
    registrationOpen: env.GATEHOUSE_REGISTRATION === 'open',
    mfa: {
      mode: env.GATEHOUSE_MFA,
      admins: env.GATEHOUSE_ADMIN_MFA,
      rpId: env.GATEHOUSE_WEBAUTHN_RP_ID ?? new URL(env.ISSUER ?? `http://localhost:${env.PORT}`).hostname,
    },
    adminAuthFailuresPerMinute: env.GATEHOUSE_ADMIN_AUTH_FAILURES,
    flowStartsPerIpPerMinute: env.GATEHOUSE_FLOW_STARTS_PER_IP,
    eventRetention: env.GATEHOUSE_EVENT_RETENTION,
    loginThrottle: {
      freeFailures: env.GATEHOUSE_LOGIN_FREE_FAILURES,
      firstDelay: env.GATEHOUSE_LOGIN_FIRST_DELAY,
      maxDelay: env.GATEHOUSE_LOGIN_MAX_DELAY,
      ipFailures: env.GATEHOUSE_LOGIN_IP_FAILURES,
    },
    logLevel: env.GATEHOUSE_LOG_LEVEL,
    metrics: env.GATEHOUSE_METRICS_PORT === undefined ? undefined : { port: env.GATEHOUSE_METRICS_PORT, host: env.GATEHOUSE_METRICS_HOST },
    production: env.NODE_ENV === 'production',
    argon2: {
      memoryCost: env.GATEHOUSE_ARGON2_MEMORY_KIB,
      timeCost: env.GATEHOUSE_ARGON2_TIME_COST,
      parallelism: env.GATEHOUSE_ARGON2_PARALLELISM,
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (child && typeof child === 'object') deepFreeze(child);
  }
  return Object.freeze(value);
}
