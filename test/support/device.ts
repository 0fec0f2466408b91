import * as oidc from 'openid-client';
import type { RegisteredClient } from '../../src/clients/clients.js';
import { Browser, type Page } from './browser.js';
import type { TestGatehouse } from './gatehouse.js';
import { API, discover, PASSWORD } from './sample-app.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A public device client (a TV app or CLI) with the device grant and refresh tokens. */
export async function registerDeviceApp(
  gatehouse: TestGatehouse,
  name = 'Living Room TV',
): Promise<{ client: RegisteredClient; device: oidc.Configuration }> {
  // Granted the sample API when it is registered (registerSampleApp).
  const api = await gatehouse.resources.findResourceByIdentifier(API);
  const client = await gatehouse.clients.registerClient({
    client_name: name,
    grant_types: [DEVICE_GRANT, 'refresh_token'],
    token_endpoint_auth_method: 'none',
    ...(api ? { api_access: [{ resource: API, scopes: ['items:read', 'items:write'] }] } : {}),
  });
  return { client, device: await discover(gatehouse, client) };
}

/** One poll of the token endpoint: the tokens, or the error code the device got. */
export async function pollOnce(device: oidc.Configuration, deviceCode: string) {
  try {
    return { tokens: await oidc.genericGrantRequest(device, DEVICE_GRANT, { device_code: deviceCode }), error: undefined };
  } catch (error) {
    if (error instanceof oidc.ResponseBodyError) return { tokens: undefined, error: error.error, status: error.status };
    throw error;
  }
}

export interface ApproveOptions {
  readonly browser?: Browser;
  readonly email?: string;
  /** What the user types on the entry page (default: the code as the device shows it). */
  readonly typed?: string;
  readonly deny?: 'on-confirm-page' | 'on-consent-page';
}

/**
 * A person on their phone: opens the verification page, types the code,
 * confirms it, signs in and allows (or denies). Returns the last page.
 */
export async function approveOnPages(verificationUri: string, userCode: string, options: ApproveOptions = {}): Promise<Page> {
  const browser = options.browser ?? new Browser();
  const entry = await browser.open(verificationUri);
  const confirm = await browser.submit(entry, '/device', { user_code: options.typed ?? userCode });
  if (!confirm.html.includes('name="confirm"'))
    throw new Error(`expected the confirmation page, got ${confirm.status}: ${confirm.html.slice(0, 600)}`);
  if (options.deny === 'on-confirm-page') return browser.submit(confirm, '/device', { abort: 'yes' });
  return continueFromConfirmPage(browser, confirm, options);
}

/** From the confirmation page: continue, sign in if asked, allow (or deny) if asked. */
export async function continueFromConfirmPage(browser: Browser, confirm: Page, options: ApproveOptions = {}): Promise<Page> {
  let page = await browser.submit(confirm, '/device', { confirm: 'yes' });
  if (page.html.includes('name="password"')) {
    page = await browser.submit(page, '/login', { email: options.email ?? 'ada@example.test', password: PASSWORD });
  }
  if (page.html.includes('/confirm"')) {
    page = await browser.submit(page, options.deny === 'on-consent-page' ? '/abort' : '/confirm');
  }
  return page;
}
