import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const errorOf = (environment: Record<string, string>) => {
  try {
    loadConfig(environment);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a configuration error');
};

describe('configuration', () => {
  it('has working defaults with nothing set', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      issuer: 'http://localhost:3000',
      databaseUrl: undefined,
      dataDir: './.data',
      secret: undefined,
      admin: undefined,
      signingKeyBits: 2048,
      argon2: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
    });
    expect(config.ttl).toEqual({
      accessToken: 3600,
      idToken: 3600,
      authorizationCode: 60,
      refreshToken: 30 * 86400,
      refreshTokenIdle: 14 * 86400,
      refreshTokenReuseGrace: 30,
      session: 14 * 86400,
      interaction: 3600,
      consoleIdle: 1800,
    });
  });

  it('refuses an ISSUER with a query or a fragment (OpenID Discovery §3: the issuer has neither)', () => {
    expect(errorOf({ ISSUER: 'https://id.example.com/?tenant=a' }).message).toBe(
      'ISSUER must not have a query or fragment (got "https://id.example.com/?tenant=a")',
    );
    expect(errorOf({ ISSUER: 'https://id.example.com/#x' }).message).toBe(
      'ISSUER must not have a query or fragment (got "https://id.example.com/#x")',
    );
    expect(loadConfig({ ISSUER: 'https://id.example.com/tenant' }).issuer).toBe('https://id.example.com/tenant');
  });

  it('has fault defaults: 5 s database timeouts, a 30 s wait for the database at start, a 10 s shutdown deadline', () => {
    const config = loadConfig({});
    expect(config.database).toEqual({ queryTimeout: 5, connectTimeout: 5, wait: 30 });
    expect(config.shutdownTimeout).toBe(10);
    expect(loadConfig({ GATEHOUSE_DATABASE_WAIT: '0' }).database.wait).toBe(0);
  });

  it('takes a refresh-token reuse grace of 0 (off) up to 5 minutes', () => {
    expect(loadConfig({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '0' }).ttl.refreshTokenReuseGrace).toBe(0);
    expect(loadConfig({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '2m' }).ttl.refreshTokenReuseGrace).toBe(120);
    expect(errorOf({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '1h' }).message).toBe(
      'GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE must be at most 300 seconds (got "1h")',
    );
    expect(errorOf({ GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '-1' })).toBeInstanceOf(ConfigError);
  });

  it('has device flow defaults: 10-minute codes, 5-second interval, 10 wrong codes per 5 minutes', () => {
    expect(loadConfig({}).deviceFlow).toEqual({ codeTtl: 600, pollInterval: 5, userCodeAttempts: 10, userCodeWindow: 300 });
    expect(loadConfig({ GATEHOUSE_DEVICE_CODE_TTL: '15m', GATEHOUSE_DEVICE_USER_CODE_ATTEMPTS: '3' }).deviceFlow).toMatchObject({
      codeTtl: 900,
      userCodeAttempts: 3,
    });
  });

  it('derives the issuer from PORT and strips a trailing slash from ISSUER', () => {
    expect(loadConfig({ PORT: '8080' }).issuer).toBe('http://localhost:8080');
    expect(loadConfig({ ISSUER: 'https://id.example.com/' }).issuer).toBe('https://id.example.com');
  });

  it('reads durations in seconds or with a unit', () => {
    const config = loadConfig({
      GATEHOUSE_ACCESS_TOKEN_TTL: '15m',
      GATEHOUSE_ID_TOKEN_TTL: '900',
      GATEHOUSE_REFRESH_TOKEN_TTL: '60d',
      GATEHOUSE_SESSION_TTL: '12h',
    });
    expect(config.ttl).toMatchObject({ accessToken: 900, idToken: 900, refreshToken: 60 * 86400, session: 43200 });
  });

  it('reads the service settings: access-token cap and cache TTL', () => {
    expect(loadConfig({})).toMatchObject({ maxAccessTokenTtl: 3600, cacheTtlSeconds: 30 });
    expect(loadConfig({ GATEHOUSE_MAX_ACCESS_TOKEN_TTL: '15m', GATEHOUSE_CACHE_TTL: '5s' })).toMatchObject({
      maxAccessTokenTtl: 900,
      cacheTtlSeconds: 5,
    });
    expect(errorOf({ GATEHOUSE_CACHE_TTL: 'soon' }).message).toMatch(/^GATEHOUSE_CACHE_TTL /);
    expect(errorOf({ GATEHOUSE_MAX_ACCESS_TOKEN_TTL: '0' }).message).toMatch(/^GATEHOUSE_MAX_ACCESS_TOKEN_TTL /);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 3000, databaseUrl: undefined });
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT must be a number \(got "abc"\)$/],
    [{ PORT: '70000' }, /^PORT must be at most 65535 \(got "70000"\)$/],
    [{ ISSUER: 'ftp://x' }, /^ISSUER must be an http\(s\) URL/],
    [{ DATABASE_URL: 'mysql://x' }, /^DATABASE_URL must be a postgres:\/\/ URL$/],
    [{ GATEHOUSE_SECRET: 'short' }, /^GATEHOUSE_SECRET must be at least 32 characters$/],
    [{ GATEHOUSE_ACCESS_TOKEN_TTL: '10 minutes' }, /^GATEHOUSE_ACCESS_TOKEN_TTL must be a duration/],
    [{ GATEHOUSE_ACCESS_TOKEN_TTL: '0' }, /^GATEHOUSE_ACCESS_TOKEN_TTL must be greater than zero/],
    [{ GATEHOUSE_SIGNING_KEY_BITS: '1024' }, /^GATEHOUSE_SIGNING_KEY_BITS /],
    [{ GATEHOUSE_KEY_CHECK_INTERVAL: '30d' }, /^GATEHOUSE_KEY_CHECK_INTERVAL must be at most 86400 seconds/],
    [{ GATEHOUSE_PASSWORD_MIN_LENGTH: '6' }, /^GATEHOUSE_PASSWORD_MIN_LENGTH must be at least 8/],
    [{ GATEHOUSE_SESSION_TTL: '400d' }, /^GATEHOUSE_SESSION_TTL must be at most 31536000 seconds/],
    [
      { GATEHOUSE_JWKS_MAX_AGE: '1d' },
      /^GATEHOUSE_KEY_PUBLISH_LEAD must be longer than GATEHOUSE_JWKS_MAX_AGE \+ GATEHOUSE_KEY_CHECK_INTERVAL/,
    ],
    [{ GATEHOUSE_ADMIN_EMAIL: 'admin@example.com' }, /^GATEHOUSE_ADMIN_PASSWORD .*set together/],
    [
      { GATEHOUSE_ADMIN_EMAIL: 'not-an-email', GATEHOUSE_ADMIN_PASSWORD: 'long enough password' },
      /^GATEHOUSE_ADMIN_EMAIL must be an email address/,
    ],
    [{ GATEHOUSE_REFRESH_TOKEN_IDLE_TTL: '60d' }, /^GATEHOUSE_REFRESH_TOKEN_IDLE_TTL must not exceed GATEHOUSE_REFRESH_TOKEN_TTL/],
    [{ NODE_ENV: 'production' }, /^GATEHOUSE_SECRET is required when NODE_ENV=production$/],
    [{ GATEHOUSE_TRUST_PROXY: 'yes' }, /^GATEHOUSE_TRUST_PROXY /],
    [{ GATEHOUSE_DEVICE_USER_CODE_ATTEMPTS: '0' }, /^GATEHOUSE_DEVICE_USER_CODE_ATTEMPTS must be at least 1/],
    [{ GATEHOUSE_DEVICE_POLL_INTERVAL: 'fast' }, /^GATEHOUSE_DEVICE_POLL_INTERVAL must be a duration/],
  ])('names the variable in one line for %o', (environment, message) => {
    const error = errorOf(environment);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('\n');
  });

  it('never echoes a secret value in its error', () => {
    expect(errorOf({ GATEHOUSE_SECRET: 'hunter2-secret' }).message).not.toContain('hunter2');
    expect(errorOf({ GATEHOUSE_ADMIN_EMAIL: 'a@b.co', GATEHOUSE_ADMIN_PASSWORD: 'tiny-pass' }).message).not.toContain('tiny-pass');
  });

  it('is frozen', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.ttl)).toBe(true);
  });
});
