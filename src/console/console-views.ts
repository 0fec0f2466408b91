import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Mustache from 'mustache';
import type { ConsoleAdmin } from './console-auth.js';

const viewsDir = fileURLToPath(new URL('../../views/', import.meta.url));

/** The console's areas, in the navigation's order, and the scope that shows each. */
export const CONSOLE_AREAS = [
  { href: '/console', label: 'Overview', scope: undefined },
  { href: '/console/applications', label: 'Applications', scope: 'admin:clients:read' },
  { href: '/console/apis', label: 'APIs', scope: 'admin:resources:read' },
  { href: '/console/users', label: 'Users', scope: 'admin:users:read' },
  { href: '/console/roles', label: 'Roles', scope: 'admin:users:read' },
  { href: '/console/keys', label: 'Signing keys', scope: 'admin:keys:read' },
  { href: '/console/events', label: 'Audit log', scope: 'admin:events:read' },
] as const;

export interface ConsoleViews {
  /** A console page (views/console/NAME.html) in the console's layout: navigation, the admin, sign-out. */
  page(name: string, admin: ConsoleAdmin, view: { title: string; area: string; csrf: string } & Record<string, unknown>): string;
  /** A page outside a session (signed out, not allowed) in the sign-in pages' layout. */
  bare(name: string, view: { title: string } & Record<string, unknown>): string;
}

/** Mustache views, escaped as the login pages are; read once at start. */
export function createConsoleViews(areas: readonly string[] = CONSOLE_AREAS.map((area) => area.href)): ConsoleViews {
  const cache = new Map<string, string>();
  const read = (name: string) => {
    let text = cache.get(name);
    if (text === undefined) {
      text = readFileSync(`${viewsDir}${name}.html`, 'utf8');
      cache.set(name, text);
    }
    return text;
  };
  const layout = read('console/layout');
  const bareLayout = read('layout');
  return {
    page(name, admin, view) {
      const nav = CONSOLE_AREAS.filter((area) => areas.includes(area.href) && (!area.scope || admin.can(area.scope))).map((area) => ({
        href: area.href,
        label: area.label,
        current: area.href === view.area,
      }));
      const full = { ...view, nav, adminName: admin.user.name ?? admin.user.email };
      return Mustache.render(layout, { ...full, body: Mustache.render(read(`console/${name}`), full) });
    },
    bare(name, view) {
      return Mustache.render(bareLayout, { ...view, body: Mustache.render(read(`console/${name}`), view) });
    },
  };
}
