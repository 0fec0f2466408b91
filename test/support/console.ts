import { expect } from 'vitest';
import { Browser, type Page } from './browser.js';
import type { TestGatehouse } from './gatehouse.js';
import { PASSWORD } from './sample-app.js';

/** An admin of the console: a user with the built-in `admin` role (or the roles given). */
export async function createConsoleUser(gatehouse: TestGatehouse, email: string, roles: string[] = ['admin']) {
  return gatehouse.users.createUser({ email, password: PASSWORD, name: email.split('@')[0], roles, emailVerified: true });
}

/** Opens /console in a fresh (or the given) browser and signs in through Gatehouse's login page. */
export async function signInToConsole(
  gatehouse: TestGatehouse,
  email: string,
  options: { browser?: Browser; path?: string } = {},
): Promise<{ browser: Browser; page: Page }> {
  const browser = options.browser ?? new Browser();
  const login = await browser.open(`${gatehouse.url}${options.path ?? '/console'}`);
  expect(login.html).toContain('to continue to <strong>Gatehouse console</strong>');
  const page = await browser.submit(login, '/login', { email, password: PASSWORD });
  return { browser, page };
}

/** A page's HTML with Mustache's entity escapes undone, for reading sentences in it. */
export function textOf(page: Page): string {
  return page.html
    .replace(/&#x2F;/g, '/')
    .replace(/&#x3D;/g, '=')
    .replace(/&#x60;/g, '`')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
