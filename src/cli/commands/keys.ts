import { readFile } from 'node:fs/promises';
import { deriveSecrets } from '../../config/master-secret.js';
import { reencryptSigningKeys } from '../../keys/signing-keys.js';
import { segment } from '../admin-api.js';
import type { Row } from '../output.js';
import { database, text, UsageError, type Command } from './command.js';

export const keysCommands: Record<string, Command> = {
  'keys list': {
    summary: 'List signing keys (public information only)',
    usage: 'keys list [--json]',
    options: {},
    async run({ api }) {
      return { rows: ((await api.call('get', '/keys')) as { data: Row[] }).data };
    },
  },

  'keys rotate': {
    summary: 'Rotate now: next becomes current, current retires, a new next is published',
    usage: 'keys rotate [--json]',
    options: {},
    async run({ api }) {
      return { record: (await api.call('post', '/keys/rotate')) as Row };
    },
  },

  'keys revoke': {
    summary:
      'Emergency revocation of a compromised key: it leaves the JWKS at once, tokens it signed stop verifying, and a new key signs now',
    usage: 'keys revoke KID [--json]',
    options: {},
    positional: 'KID',
    async run({ api }, _values, [kid]) {
      if (!kid) throw new UsageError('name the key to revoke (its kid, from `gatehouse keys list`)');
      return {
        record: (await api.call('post', `/keys/${segment(kid)}/revoke`)) as Row,
        note: 'Resource servers that cached the JWKS may reject tokens from the new key until they fetch it again (most do on an unknown kid).',
      };
    },
  },

  'keys re-encrypt': {
    summary: 'After changing GATEHOUSE_SECRET: re-encrypt the private keys sealed under the old secret (--local only)',
    usage: 'keys re-encrypt --old-secret-file PATH [--json]   (GATEHOUSE_SECRET holds the new secret)',
    options: { 'old-secret-file': { type: 'string', description: 'A file holding the previous GATEHOUSE_SECRET (required)' } },
    needs: 'database',
    async run(context, values) {
      const file = text(values['old-secret-file']);
      if (!file) throw new UsageError('--old-secret-file is required');
      let oldSecret: string;
      try {
        oldSecret = (await readFile(file, 'utf8')).trim();
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new UsageError(`--old-secret-file cannot be read: ${file} (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`);
      }
      const { prisma, keyEncryptionKey } = database(context);
      const count = await reencryptSigningKeys(prisma, deriveSecrets(oldSecret).keyEncryptionKey, keyEncryptionKey);
      return {
        record: { re_encrypted: count },
        note: 'Client secrets and signed-in sessions do not carry over to a new secret: rotate client secrets and expect users to sign in again.',
      };
    },
  },
};
