import { mkdtemp, chmod } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.js';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';

describe('embedded Postgres', () => {
  it.runIf(userInfo().uid === 0)('as root, says which directory the postgres user cannot enter', async () => {
    const locked = await mkdtemp(join(tmpdir(), 'gatehouse-locked-'));
    await chmod(locked, 0o700);
    const started = startEmbeddedPostgres({ dataDir: join(locked, 'data') });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(`cannot enter ${locked} (mode 700)`);
  });
});
