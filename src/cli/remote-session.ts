import { readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from './commands/command.js';

/** Where `gatehouse login` keeps its token: $XDG_CONFIG_HOME/gatehouse, else ~/.config/gatehouse. */
export function configDir(environment: Record<string, string | undefined>): string | undefined {
  const base = environment.XDG_CONFIG_HOME || (environment.HOME ? join(environment.HOME, '.config') : undefined);
  return base ? join(base, 'gatehouse') : undefined;
}

/** What `gatehouse login` stored: the server, a token for its admin API and when that token expires. */
export interface StoredLogin {
  readonly url: string;
  readonly client_id: string;
  readonly access_token: string;
  /** ISO 8601. */
  readonly expires_at: string;
  /** With `login --device`: renews the access token when it expires (the server rotates it on each use). */
  readonly refresh_token?: string;
}

const loginFile = (dir: string) => join(dir, 'login.json');

export async function readStoredLogin(environment: Record<string, string | undefined>): Promise<StoredLogin | undefined> {
  const dir = configDir(environment);
  if (!dir) return undefined;
  let text: string;
  try {
    text = await readFile(loginFile(dir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read the stored login ${loginFile(dir)}: ${(error as Error).message}`);
  }
  const stored = JSON.parse(text) as Partial<StoredLogin>;
  if (!stored.url || !stored.access_token || !stored.expires_at || !stored.client_id) {
    throw new Error(`the stored login ${loginFile(dir)} is damaged: run gatehouse logout, then gatehouse login`);
  }
  return stored as StoredLogin;
}

/** Stores the login readable by its owner only (0600, in a 0700 directory): the token is a credential. */
export async function storeLogin(environment: Record<string, string | undefined>, login: StoredLogin): Promise<string> {
  const dir = configDir(environment);
  if (!dir) throw new UsageError('no config directory: set HOME or XDG_CONFIG_HOME');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = loginFile(dir);
  // Removed first: writeFile keeps the mode of a file that already exists.
  await rm(file, { force: true });
  await writeFile(file, `${JSON.stringify(login, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return file;
}

/** Removes the stored login; whether there was one. */
export async function removeStoredLogin(environment: Record<string, string | undefined>): Promise<boolean> {
  const dir = configDir(environment);
  if (!dir) return false;
  const existed = (await readStoredLogin(environment).catch(() => true)) !== undefined;
  await rm(loginFile(dir), { force: true });
  return existed;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The server's URL, as given: http(s), no query or fragment, trailing slash
 * dropped. HTTPS unless the host is this machine (a token and a client secret
 * would otherwise cross the network in the clear).
 */
export function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--url is not a URL: ${value}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`--url must be an https URL: ${value}`);
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !url.hostname.startsWith('127.')) {
    throw new UsageError(`--url must be https (plain http only for localhost, 127.0.0.1 or [::1]): ${value}`);
  }
  if (url.search || url.hash) throw new UsageError(`--url must not have a query or fragment: ${value}`);
  return url.toString().replace(/\/+$/, '');
}

/** NAME, or the content of the file NAME_FILE names (as the server reads its secrets), not both. */
export function settingOrFile(environment: Record<string, string | undefined>, name: string): string | undefined {
  const file = environment[`${name}_FILE`];
  if (!file) return environment[name] || undefined;
  if (environment[name]) throw new UsageError(`${name} and ${name}_FILE are both set: set only one of them`);
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw new UsageError(`${name}_FILE cannot be read: ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** The variables the CLI reads for remote use: not server settings (loadConfig would warn about them). */
export const REMOTE_VARIABLES = [
  'GATEHOUSE_URL',
  'GATEHOUSE_CLIENT_ID',
  'GATEHOUSE_CLIENT_ID_FILE',
  'GATEHOUSE_CLIENT_SECRET',
  'GATEHOUSE_CLIENT_SECRET_FILE',
];
