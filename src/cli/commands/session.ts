import { deviceLogin, revokeRefreshToken } from '../device-login.js';
import { clientCredentialsToken } from '../remote-admin-api.js';
import { readStoredLogin, removeStoredLogin, serverUrl, settingOrFile, storeLogin } from '../remote-session.js';
import { text, UsageError, type Command } from './command.js';

/**
 * `gatehouse login`: a client-credentials token for a remote server's admin
 * API, kept in the user's config dir (0600) until it expires, so later
 * commands need neither --url nor the secret in their environment.
 */
export const sessionCommands: Record<string, Command> = {
  login: {
    summary:
      "Sign in to a server's admin API, with client credentials or as yourself (--device), and keep the token (0600, in your config dir)",
    usage:
      'login --url URL [--client-id ID] [--client-secret-stdin | --device] [--json]   (or GATEHOUSE_URL, GATEHOUSE_CLIENT_ID, GATEHOUSE_CLIENT_SECRET)',
    options: {
      'client-id': { type: 'string', description: 'The admin client (default GATEHOUSE_CLIENT_ID or GATEHOUSE_CLIENT_ID_FILE)' },
      device: {
        type: 'boolean',
        description:
          'Sign in as yourself (an admin) in a browser with the device flow (RFC 8628); --client-id names a public device client granted the admin API',
      },
      'client-secret-stdin': {
        type: 'boolean',
        description: 'Read the client secret from standard input (default GATEHOUSE_CLIENT_SECRET or GATEHOUSE_CLIENT_SECRET_FILE)',
      },
    },
    needs: 'none',
    async run({ environment }, values, _positionals, io) {
      const given = text(values.url) ?? environment.GATEHOUSE_URL;
      if (!given) throw new UsageError('name the server with --url (or GATEHOUSE_URL)');
      const url = serverUrl(given);
      const clientId = text(values['client-id']) ?? settingOrFile(environment, 'GATEHOUSE_CLIENT_ID');
      if (values.device) {
        if (!clientId) throw new UsageError('name the public device client with --client-id (or GATEHOUSE_CLIENT_ID)');
        if (values['client-secret-stdin']) throw new UsageError('--device and --client-secret-stdin do not go together');
        const tokens = await deviceLogin(url, clientId, io.stderr);
        const file = await storeLogin(environment, {
          url,
          client_id: clientId,
          access_token: tokens.accessToken,
          expires_at: tokens.expiresAt.toISOString(),
          ...(tokens.refreshToken ? { refresh_token: tokens.refreshToken } : {}),
        });
        return {
          record: { url, client_id: clientId, expires_at: tokens.expiresAt.toISOString(), renews: Boolean(tokens.refreshToken) },
          note: `Signed in; the token is in ${file}. Commands now go to ${url} (--local for this machine's database).`,
        };
      }
      const secret = values['client-secret-stdin']
        ? (await io.readStdin()).replace(/\r?\n$/, '')
        : settingOrFile(environment, 'GATEHOUSE_CLIENT_SECRET');
      if (!clientId || !secret) {
        throw new UsageError(
          'give the admin client: --client-id and --client-secret-stdin, or GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET',
        );
      }
      const token = await clientCredentialsToken(url, clientId, secret);
      const file = await storeLogin(environment, {
        url,
        client_id: clientId,
        access_token: token.accessToken,
        expires_at: token.expiresAt.toISOString(),
      });
      return {
        record: { url, client_id: clientId, expires_at: token.expiresAt.toISOString() },
        note: `Signed in; the token is in ${file} until it expires. Commands now go to ${url} (--local for this machine's database).`,
      };
    },
  },
  logout: {
    summary: 'Forget the stored login, revoking its refresh token (commands then use GATEHOUSE_URL or the local database)',
    usage: 'logout [--json]',
    options: {},
    needs: 'none',
    async run({ environment }) {
      const stored = await readStoredLogin(environment).catch(() => undefined);
      // A device login's refresh token is revoked first (best effort: the file goes either way).
      let revoked: boolean | undefined;
      if (stored?.refresh_token) {
        revoked = await revokeRefreshToken(stored.url, stored.client_id, stored.refresh_token).catch(() => false);
      }
      const removed = await removeStoredLogin(environment);
      return {
        record: { logged_out: removed, url: stored?.url ?? null, ...(revoked === undefined ? {} : { refresh_token_revoked: revoked }) },
        note:
          revoked === false ? `the server did not confirm that the refresh token was revoked; it stays valid until it expires` : undefined,
      };
    },
  },
};
