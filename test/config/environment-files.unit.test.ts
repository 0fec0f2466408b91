import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, configWarnings, loadConfig } from '../../src/config/config.js';

let dir: string;
const file = async (name: string, content: string) => {
  const path = join(dir, name);
  await writeFile(path, content, { mode: 0o600 });
  return path;
};
const errorOf = (environment: Record<string, string>) => {
  try {
    loadConfig(environment);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a configuration error');
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-config-files-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('settings from files (NAME_FILE)', () => {
  it('reads every secret setting from a file, without the trailing newline', async () => {
    const config = loadConfig({
      GATEHOUSE_SECRET_FILE: await file('secret', 'a-master-secret-of-at-least-32-characters\n'),
      DATABASE_URL_FILE: await file('database-url', 'postgresql://gatehouse:pw@db:5432/gatehouse\n'),
      GATEHOUSE_ADMIN_EMAIL: 'admin@example.test',
      GATEHOUSE_ADMIN_PASSWORD_FILE: await file('admin-password', 'an admin password 123'),
      GATEHOUSE_ADMIN_CLIENT_ID: 'ops-admin',
      GATEHOUSE_ADMIN_CLIENT_SECRET_FILE: await file('admin-client-secret', 'an-admin-client-secret-of-32-characters-or-more\r\n'),
    });
    expect(config.secret).toBe('a-master-secret-of-at-least-32-characters');
    expect(config.databaseUrl).toBe('postgresql://gatehouse:pw@db:5432/gatehouse');
    expect(config.admin).toEqual({ email: 'admin@example.test', password: 'an admin password 123' });
    expect(config.adminClient).toEqual({ clientId: 'ops-admin', secret: 'an-admin-client-secret-of-32-characters-or-more' });
  });

  it('refuses a setting given both directly and as a file', async () => {
    const error = errorOf({ GATEHOUSE_SECRET: 'x'.repeat(40), GATEHOUSE_SECRET_FILE: await file('both', 'y'.repeat(40)) });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('GATEHOUSE_SECRET and GATEHOUSE_SECRET_FILE are both set: set only one of them');
  });

  it('names the file it cannot read', () => {
    const error = errorOf({ DATABASE_URL_FILE: join(dir, 'missing') });
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`DATABASE_URL_FILE cannot be read: ${join(dir, 'missing')} (ENOENT)`);
  });

  it('validates a value from a file like any other, without echoing it', async () => {
    const error = errorOf({ GATEHOUSE_SECRET_FILE: await file('short', 'hunter2\n') });
    expect(error.message).toBe('GATEHOUSE_SECRET must be at least 32 characters');
    expect(errorOf({ DATABASE_URL_FILE: await file('bad-url', 'mysql://root:pw@db/x') }).message).not.toContain('pw');
  });
});

describe('unknown GATEHOUSE_ variables', () => {
  it('warns about each one, naming the closest setting', () => {
    expect(
      configWarnings({
        GATEHOUSE_SECERT: 'x',
        GATEHOUSE_TRUST_PROXIES: 'true',
        GATEHOUSE_SECRET: 'x',
        PATH: '/bin',
        GATEHOUSE_ADMIN_PASSWORD_FILE: '/run/x',
      }),
    ).toEqual([
      'GATEHOUSE_SECERT is not a Gatehouse setting and is ignored; did you mean GATEHOUSE_SECRET?',
      'GATEHOUSE_TRUST_PROXIES is not a Gatehouse setting and is ignored; did you mean GATEHOUSE_TRUST_PROXY?',
    ]);
  });

  it('has nothing to say about known settings and their _FILE forms', () => {
    expect(configWarnings({ GATEHOUSE_SECRET_FILE: '/run/s', GATEHOUSE_METRICS_PORT: '9464', GATEHOUSE_LOG_LEVEL: 'warn' })).toEqual([]);
  });
});

describe('log and metrics settings', () => {
  it('logs at info and serves no metrics by default', () => {
    expect(loadConfig({})).toMatchObject({ logLevel: 'info', metrics: undefined });
  });

  it('binds the metrics listener to loopback unless told otherwise', () => {
    expect(loadConfig({ GATEHOUSE_METRICS_PORT: '9464' }).metrics).toEqual({ port: 9464, host: '127.0.0.1' });
    expect(loadConfig({ GATEHOUSE_METRICS_PORT: '9464', GATEHOUSE_METRICS_HOST: '0.0.0.0' }).metrics).toEqual({
      port: 9464,
      host: '0.0.0.0',
    });
  });

  it('names a log level it does not know', () => {
    expect(errorOf({ GATEHOUSE_LOG_LEVEL: 'verbose' }).message).toMatch(/^GATEHOUSE_LOG_LEVEL .*\(got "verbose"\)$/);
  });
});
