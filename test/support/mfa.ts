import type * as oidc from 'openid-client';
import { generate } from 'otplib';
import { Browser, type Page } from './browser.js';
import { authorizationRequestWithPkce, PASSWORD, REDIRECT_URI } from './sample-app.js';

/** The RFC 6238 code of `secret` for the 30-second step `steps` away from now (0: the current one). */
export function totpCode(secret: string, steps = 0): Promise<string> {
  return generate({ secret, period: 30, epoch: Math.floor(Date.now() / 1000) + steps * 30 });
}

/** The base32 key a page shows for typing into an authenticator app. */
export function shownSecret(page: Page): string {
  const secret = /type this key into the app: <code>([A-Z2-7]+)<\/code>/.exec(page.html)?.[1];
  if (!secret) throw new Error(`no TOTP key on ${page.url}:\n${page.html.slice(0, 1500)}`);
  return secret;
}

/** The recovery codes a page shows once. */
export function shownRecoveryCodes(page: Page): string[] {
  const list = /<ul class="recovery-codes">([\s\S]*?)<\/ul>/.exec(page.html)?.[1] ?? '';
  return [...list.matchAll(/<code>([a-z0-9-]+)<\/code>/g)].map((match) => match[1] as string);
}

/**
 * Turns on TOTP on the account page of a signed-in browser: starts enrolment,
 * reads the key as a person would type it, confirms with the current code.
 */
export async function enrolTotpOnAccountPage(
  browser: Browser,
  accountPage: Page,
): Promise<{ secret: string; recoveryCodes: string[]; page: Page }> {
  const started = await browser.submit(accountPage, '/account/mfa/totp');
  const secret = shownSecret(started);
  const page = await browser.submit(started, '/account/mfa/totp/confirm', { code: await totpCode(secret) });
  return { secret, recoveryCodes: shownRecoveryCodes(page), page };
}

/**
 * Starts a sign-in to the sample app (code flow, PKCE S256) and enters the
 * password: the page after it (the second-factor step, or the redirect).
 * `ip`: the client address a trusted proxy forwards, when given.
 */
export async function passwordStepOfSampleApp(
  sample: { readonly config: oidc.Configuration },
  email: string,
  ip?: string,
): Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser();
  if (ip) browser.headers['x-forwarded-for'] = ip;
  const { url } = await authorizationRequestWithPkce(sample.config, { scope: 'openid' });
  const login = await browser.open(url, { stopAt: REDIRECT_URI });
  return { browser, page: await browser.submit(login, '/login', { email, password: PASSWORD }, { stopAt: REDIRECT_URI }) };
}
