import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { announceCredentials } from '../../src/admin/bootstrap-credentials.js';
import { createRecordingLogger } from '../support/gatehouse.js';

const MESSAGE =
  'Admin API client created. Its secret is shown only this once:\n  client_id:     gatehouse-admin\n  client_secret: s3cr3t-value-of-the-admin-client';

describe('the first-start admin client credentials', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-credentials-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('are shown on the terminal when stdout is one, and written nowhere', () => {
    const printed: unknown[] = [];
    vi.spyOn(console, 'log').mockImplementation((text: unknown) => void printed.push(text));
    const log = createRecordingLogger();
    announceCredentials(dataDir, log, true)(MESSAGE);
    expect(printed).toEqual([MESSAGE]);
    expect(existsSync(join(dataDir, 'admin-client-credentials.txt'))).toBe(false);
    expect(log.lines).toEqual([]);
  });

  it('go to a 0600 file in the data dir otherwise; the log says where, never the secret', async () => {
    const log = createRecordingLogger();
    announceCredentials(join(dataDir, 'not-yet-created'), log, false)(MESSAGE);
    const file = join(dataDir, 'not-yet-created', 'admin-client-credentials.txt');
    expect(await readFile(file, 'utf8')).toBe(`${MESSAGE}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(log.records).toEqual([expect.objectContaining({ level: 'warn', file })]);
    expect(JSON.stringify(log.records)).not.toContain('s3cr3t-value');
  });
});
