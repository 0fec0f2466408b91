import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.js';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { testPort } from '../support/ports.js';

describe('embedded Postgres', () => {
  it('under a directory others cannot enter: as root, names it; as anyone else, starts', async () => {
    const locked = await mkdtemp(join(tmpdir(), 'gatehouse-locked-'));
    await chmod(locked, 0o700);
    try {
      const started = startEmbeddedPostgres({ dataDir: join(locked, 'data'), port: await testPort() });
      if (userInfo().uid === 0) {
        // Postgres runs as the OS user `postgres`, which could not reach the data dir.
        await expect(started).rejects.toBeInstanceOf(ConfigError);
        await expect(started).rejects.toThrow(`cannot enter ${locked} (mode 700)`);
      } else {
        await (await started).stop();
      }
    } finally {
      await rm(locked, { recursive: true, force: true });
    }
  });
});
