import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Mustache from 'mustache';

const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

export type PageName = 'login' | 'consent' | 'logout' | 'logged-out' | 'error';

export interface PageRenderer {
  /** HTML of a page inside the shared layout. Mustache escapes every `{{value}}`. */
  render(page: PageName, view: { title: string } & Record<string, unknown>): string;
}

export function createPageRenderer(): PageRenderer {
  const read = (name: string) => readFileSync(`${viewsDir}${name}.html`, 'utf8');
  const layout = read('layout');
  const pages = new Map<PageName, string>(
    (['login', 'consent', 'logout', 'logged-out', 'error'] as const).map((name) => [name, read(name)]),
  );
  return {
    render(page, view) {
      const body = Mustache.render(pages.get(page) ?? '', view);
      return Mustache.render(layout, { ...view, body });
    },
  };
}

export const stylesheet = (): string => readFileSync(`${viewsDir}gatehouse.css`, 'utf8');
