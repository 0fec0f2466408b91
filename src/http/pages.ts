import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Mustache from 'mustache';

const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

const PAGE_NAMES = [
  'login',
  'consent',
  'logout',
  'logged-out',
  'error',
  'device-code',
  'device-confirm',
  'device-approved',
  'device-denied',
  'forgot-password',
  'reset-password',
  'verify-email',
  'notice',
  'register',
  'account',
  'mfa',
] as const;

export type PageName = (typeof PAGE_NAMES)[number];

export interface PageRenderer {
  /** HTML of a page inside the shared layout. Mustache escapes every `{{value}}`. */
  render(page: PageName, view: { title: string } & Record<string, unknown>): string;
}

export function createPageRenderer(): PageRenderer {
  const read = (name: string) => readFileSync(`${viewsDir}${name}.html`, 'utf8');
  const layout = read('layout');
  const pages = new Map<PageName, string>(PAGE_NAMES.map((name) => [name, read(name)]));
  // Pieces that pages include with {{> name}}.
  const partials = { 'api-scopes': read('api-scopes') };
  return {
    render(page, view) {
      const body = Mustache.render(pages.get(page) ?? '', view, partials);
      return Mustache.render(layout, { ...view, body });
    },
  };
}

export const stylesheet = (): string => readFileSync(`${viewsDir}gatehouse.css`, 'utf8');
