import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../http/errors.js';
import { discover, failure, send } from './remote-admin-api.js';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** A person's admin-API tokens: the access token, when it expires, and a refresh token when the server gave one. */
export interface PersonTokens {
  readonly accessToken: string;
  readonly expiresAt: Date;
  readonly refreshToken?: string;
}

interface TokenAnswer {
  access_token?: string;
  expires_in?: number;
  refresh_token?: string;
  error?: string;
  error_description?: string;
}

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  body: new URLSearchParams(fields),
});

const tokensFrom = (answer: TokenAnswer, previousRefresh?: string): PersonTokens => ({
  accessToken: answer.access_token ?? '',
  expiresAt: new Date(Date.now() + (answer.expires_in ?? 0) * 1000),
  refreshToken: answer.refresh_token ?? previousRefresh,
});

/**
 * `gatehouse login --device`: a person signs in on any browser (with their
 * second factor, if they have one) and the CLI gets a token for the admin API
 * in their name: the device authorization grant (RFC 8628) with a public
 * client, for the admin API's resource (RFC 8707). `say` shows the code.
 */
export async function deviceLogin(url: string, clientId: string, say: (text: string) => void): Promise<PersonTokens> {
  const metadata = await discover(url);
  if (!metadata.device_authorization_endpoint) throw new Error(`${url} does not offer the device flow`);
  const started = await send(
    metadata.device_authorization_endpoint,
    form({ client_id: clientId, scope: 'openid offline_access admin', resource: `${metadata.issuer}/admin` }),
  );
  if (!started.ok) throw await failure(started, 'the device authorization endpoint');
  const device = (await started.json()) as {
    device_code: string;
    user_code: string;
    verification_uri: string;
    verification_uri_complete?: string;
    expires_in: number;
    interval?: number;
  };
  say(
    `To sign in, open ${device.verification_uri_complete ?? device.verification_uri} and confirm the code ${device.user_code} (it expires in ${Math.round(device.expires_in / 60)} minutes).`,
  );
  // RFC 8628 §3.5: poll no faster than the interval (5 s by default), 5 s slower after each slow_down.
  let interval = device.interval ?? 5;
  for (;;) {
    await sleep(interval * 1000);
    const response = await send(
      metadata.token_endpoint,
      form({ grant_type: DEVICE_GRANT, device_code: device.device_code, client_id: clientId }),
    );
    const answer = (await response.json()) as TokenAnswer;
    if (response.ok && answer.access_token) return tokensFrom(answer);
    if (answer.error === 'authorization_pending') continue;
    if (answer.error === 'slow_down') {
      interval += 5;
      continue;
    }
    const why =
      answer.error === 'access_denied'
        ? 'the sign-in was denied'
        : answer.error === 'expired_token'
          ? 'the code expired before it was confirmed'
          : (answer.error_description ?? answer.error ?? `HTTP ${response.status}`);
    throw new AppError(401, answer.error ?? 'login_failed', `login failed: ${why}`);
  }
}

/** A new access token from the refresh token (RFC 6749 §6), for a public client. */
export async function refreshPersonTokens(url: string, clientId: string, refreshToken: string): Promise<PersonTokens> {
  const metadata = await discover(url);
  const response = await send(
    metadata.token_endpoint,
    form({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId }),
  );
  const answer = (await response.json()) as TokenAnswer;
  if (!response.ok || !answer.access_token) {
    throw new AppError(401, 'invalid_token', `the stored login for ${url} could not be renewed (${answer.error ?? response.status})`);
  }
  return tokensFrom(answer, refreshToken);
}

/**
 * Revokes a stored refresh token at the server (RFC 7009 §2.1), so a copy of
 * the login file is worthless after logout. Whether the server took it.
 */
export async function revokeRefreshToken(url: string, clientId: string, refreshToken: string): Promise<boolean> {
  const metadata = await discover(url);
  if (!metadata.revocation_endpoint) return false;
  const response = await send(
    metadata.revocation_endpoint,
    form({ token: refreshToken, token_type_hint: 'refresh_token', client_id: clientId }),
  );
  return response.ok;
}
