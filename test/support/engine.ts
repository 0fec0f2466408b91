import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';

/**
 * A bare oidc-provider, in memory (its own memory adapter), on a loopback
 * port: for tests that pin the engine's own behaviour, without Gatehouse or
 * Postgres around it.
 */
export interface TestEngine {
  readonly url: string;
  readonly provider: Provider;
  close(): Promise<void>;
}

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });

/** Keys of the engine's own (so it prints no development-key warning), for tests that build a Provider themselves. */
export const ENGINE_KEYS = {
  jwks: { keys: [{ ...signingKey, kid: 'test', alg: 'RS256', use: 'sig' }] },
  cookies: { keys: ['test cookie key'] },
} satisfies Partial<Configuration>;

/**
 * `install` runs before the engine serves: Koa composes middleware when `callback()` is called.
 * `construct` wraps the Provider's construction (for a seam that must be in place while it is built).
 */
export async function startEngine(
  clients: ClientMetadata[],
  configuration: Partial<Configuration> = {},
  install: (provider: Provider) => void = () => {},
  construct: (build: () => Provider) => Provider = (build) => build(),
): Promise<TestEngine> {
  const provider = construct(
    () =>
      new Provider('http://issuer.test', {
        clients,
        ...ENGINE_KEYS,
        clockTolerance: 60,
        findAccount: async (_ctx, accountId) => ({ accountId, claims: async () => ({ sub: accountId }) }),
        ...configuration,
      }),
  );
  // The 500 one test provokes on purpose is asserted there, not printed.
  provider.silent = true;
  install(provider);
  const server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    provider,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function basicAuth(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** A form POST; the answer's JSON (or text) body and status. */
export async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', body: new URLSearchParams(form), headers, redirect: 'manual' });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text, cookies: response.headers.getSetCookie() };
}

/** The `name=value` pairs of Set-Cookie headers, for a Cookie header. */
export function cookieHeader(setCookies: string[]): string {
  return setCookies.map((cookie) => cookie.split(';')[0]).join('; ');
}
