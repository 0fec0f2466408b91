import { mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config.js';
import { deriveSecrets, resolveMasterSecret } from '../../src/config/master-secret.js';

describe('master secret', () => {
  it('uses GATEHOUSE_SECRET when set and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-secret-'));
    expect(await resolveMasterSecret('x'.repeat(32), dir, () => {})).toBe('x'.repeat(32));
    await expect(stat(join(dir, 'secret'))).rejects.toThrow();
  });

  it('generates a secret into the data dir with mode 0600 once, then reuses it, and says so', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'gatehouse-secret-')), 'data');
    const lines: string[] = [];
    const first = await resolveMasterSecret(undefined, dir, (line) => lines.push(line));
    const second = await resolveMasterSecret(undefined, dir, (line) => lines.push(line));
    expect(first).toHaveLength(43);
    expect(second).toBe(first);
    expect((await stat(join(dir, 'secret'))).mode & 0o777).toBe(0o600);
    expect(lines[0]).toMatch(/generated one into .*secret \(mode 0600\)/);
    expect(lines.join('\n')).not.toContain(first);
  });

  it('refuses an empty or short secret file in the data dir, as it refuses a short GATEHOUSE_SECRET', async () => {
    for (const content of ['', '\n', 'short-secret\n', `${'x'.repeat(31)}\n`]) {
      const dir = await mkdtemp(join(tmpdir(), 'gatehouse-secret-'));
      await writeFile(join(dir, 'secret'), content, { mode: 0o600 });
      const refused = resolveMasterSecret(undefined, dir, () => {});
      await expect(refused).rejects.toBeInstanceOf(ConfigError);
      await expect(refused).rejects.toThrow(/secret .* at least 32 characters/);
    }
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-secret-'));
    await writeFile(join(dir, 'secret'), `${'y'.repeat(32)}\n`, { mode: 0o600 });
    expect(await resolveMasterSecret(undefined, dir, () => {})).toBe('y'.repeat(32));
  });

  it('derives different keys for each purpose, stable for one secret', () => {
    const a = deriveSecrets('s'.repeat(32));
    const b = deriveSecrets('s'.repeat(32));
    const c = deriveSecrets('t'.repeat(32));
    expect(a.keyEncryptionKey.equals(b.keyEncryptionKey)).toBe(true);
    expect(a.keyEncryptionKey.equals(c.keyEncryptionKey)).toBe(false);
    const keys = [
      ...[a.keyEncryptionKey, a.clientSecretKey, a.csrfKey, a.payloadSealKey, a.mfaKeys.sealKey, a.mfaKeys.codeKey].map((key) =>
        key.export(),
      ),
      Buffer.from(a.cookieKeys[0] as string, 'base64url'),
    ].map((key) => key.toString('hex'));
    expect(new Set(keys).size).toBe(7);
    // 256-bit secret keys, made once (a KeyObject: Node 24's HMAC and AES calls take it without probing raw bytes).
    expect(a.clientSecretKey.type).toBe('secret');
    expect(a.clientSecretKey.symmetricKeySize).toBe(32);
  });
});
