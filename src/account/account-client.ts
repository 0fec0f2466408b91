import { createHmac, type KeyObject } from 'node:crypto';
import type { ClientService } from '../clients/clients.js';
import type { Logger } from '../log.js';
import { ACCOUNT_CALLBACK_PATH, ACCOUNT_CLIENT_ID } from './account-routes.js';

/**
 * The account page's own client, ensured at every start. Its secret is derived
 * from the master secret (every instance agrees) and never used: the page
 * reads the browser session the sign-in creates.
 */
export async function ensureAccountClient(clients: ClientService, issuer: string, key: KeyObject, log: Logger): Promise<void> {
  try {
    await clients.ensureClient(
      ACCOUNT_CLIENT_ID,
      {
        client_name: 'Your account',
        redirect_uris: [`${issuer}${ACCOUNT_CALLBACK_PATH}`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        scope: 'openid',
        // Gatehouse's own page: consent is implied (src/oidc/implied-consent.ts).
        first_party: true,
      },
      createHmac('sha256', key).update('account-client').digest('base64url'),
    );
  } catch (error) {
    log.warn(`the account page is unavailable: its client could not be registered (${(error as Error).message})`);
  }
}
