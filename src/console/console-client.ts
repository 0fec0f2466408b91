import { createHmac, type KeyObject } from 'node:crypto';
import type { ClientService } from '../clients/clients.js';
import type { Logger } from '../log.js';

/** The console's own OAuth client: a confidential web app of this server, first-party (no consent page). */
export const CONSOLE_CLIENT_ID = 'gatehouse-console';
export const CONSOLE_CALLBACK_PATH = '/console/callback';
export const CONSOLE_SIGNED_OUT_PATH = '/console/signed-out';

/** Its secret, derived from the master secret so every instance agrees; it never leaves the server. */
export const consoleClientSecret = (key: KeyObject): string => createHmac('sha256', key).update('console-client').digest('base64url');

/**
 * Registered (or brought back to these metadata) at every start, as the admin
 * API client and the account page's client are.
 */
export async function ensureConsoleClient(clients: ClientService, issuer: string, key: KeyObject, log: Logger): Promise<void> {
  try {
    await clients.ensureClient(
      CONSOLE_CLIENT_ID,
      {
        client_name: 'Gatehouse console',
        redirect_uris: [`${issuer}${CONSOLE_CALLBACK_PATH}`],
        post_logout_redirect_uris: [`${issuer}${CONSOLE_SIGNED_OUT_PATH}`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'openid',
        require_pkce: true,
        first_party: true,
      },
      consoleClientSecret(key),
    );
  } catch (error) {
    log.warn(`the admin console is unavailable: its client could not be registered (${(error as Error).message})`);
  }
}
