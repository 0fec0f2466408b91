import { AppError, type AppErrorStatus } from '../http/errors.js';
import type { AdminApi } from './admin-api.js';

/** The server could not be reached at all (refused, unknown host, TLS failure): exit 1 with one line. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

const STATUSES = new Set<number>([400, 401, 403, 404, 405, 409, 413, 415, 429, 503]);

/** How long the CLI waits for a server's answer before giving up with one line. */
const ANSWER_WITHIN_SECONDS = 60;

export async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    // No redirects: a token must not follow one to another origin.
    return await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(ANSWER_WITHIN_SECONDS * 1000) });
  } catch (error) {
    const origin = new URL(url).origin;
    if ((error as Error).name === 'TimeoutError')
      throw new UnreachableError(`${origin} did not answer within ${ANSWER_WITHIN_SECONDS} seconds`);
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new UnreachableError(`cannot reach ${origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
}

/** A JSON error answer `{error, error_description}` as the AppError it was at the server; anything else, a plain failure. */
export async function failure(response: Response, what: string): Promise<Error> {
  const text = await response.text();
  let body: { error?: unknown; error_description?: unknown } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = undefined;
  }
  if (typeof body?.error === 'string' && STATUSES.has(response.status)) {
    const description = typeof body.error_description === 'string' ? body.error_description : body.error;
    return new AppError(response.status as AppErrorStatus, body.error, description);
  }
  return new Error(`${what} answered HTTP ${response.status}${typeof body?.error === 'string' ? ` ${body.error}` : ''}`);
}

export interface ServerMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly device_authorization_endpoint?: string;
  readonly revocation_endpoint?: string;
}

/** The server's discovery document (OpenID Connect Discovery 1.0 §4). */
export async function discover(url: string): Promise<ServerMetadata> {
  const discovery = await send(`${url}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });
  if (!discovery.ok) throw new Error(`${url} is not a Gatehouse server (its discovery document answered HTTP ${discovery.status})`);
  const metadata = (await discovery.json()) as Partial<ServerMetadata>;
  if (!metadata.issuer || !metadata.token_endpoint) throw new Error(`${url} is not a Gatehouse server (no issuer or token endpoint)`);
  return metadata as ServerMetadata;
}

/**
 * An admin-API token by client credentials (RFC 6749 §4.4) for the admin
 * API's resource indicator (RFC 8707 §2), from the server's discovered token
 * endpoint. Returns the token and its lifetime.
 */
export async function clientCredentialsToken(
  url: string,
  clientId: string,
  secret: string,
): Promise<{ accessToken: string; expiresAt: Date; issuer: string }> {
  const metadata = await discover(url);
  // RFC 6749 §2.3.1: the id and secret are form-urlencoded before Basic encoding.
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  const response = await send(metadata.token_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${metadata.issuer}/admin` }),
  });
  if (!response.ok) {
    const error = await failure(response, 'the token endpoint');
    if (error instanceof AppError) {
      throw new AppError(error.status, error.code, `the server refused the client credentials of ${clientId}: ${error.description}`);
    }
    throw error;
  }
  const body = (await response.json()) as { access_token?: string; expires_in?: number };
  if (!body.access_token) throw new Error('the token endpoint answered without an access token');
  return { accessToken: body.access_token, expiresAt: new Date(Date.now() + (body.expires_in ?? 0) * 1000), issuer: metadata.issuer };
}

/** The admin API over HTTP with a Bearer token (RFC 6750 §2.1); its errors come back as the AppErrors they were. */
export function createRemoteAdminApi(url: string, token: () => Promise<string>, explain401?: (error: AppError) => AppError): AdminApi {
  return {
    async call(method, path, request = {}) {
      const query = new URLSearchParams(
        Object.entries(request.query ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ).toString();
      const response = await send(`${url}/admin${path}${query ? `?${query}` : ''}`, {
        method: method.toUpperCase(),
        headers: {
          authorization: `Bearer ${await token()}`,
          accept: 'application/json',
          ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
      });
      if (response.status === 204) return undefined;
      if (!response.ok) {
        const error = await failure(response, `${method.toUpperCase()} /admin${path}`);
        throw error instanceof AppError && error.status === 401 && explain401 ? explain401(error) : error;
      }
      return response.json();
    },
  };
}
