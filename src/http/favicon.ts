import type { Context } from 'koa';

/** A small gate in the stylesheet's colours; SVG, so one file serves every size. */
const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f3a5f"/><path d="M8 26V12a8 8 0 0 1 16 0v14h-4V12a4 4 0 0 0-8 0v14z" fill="#fff"/></svg>`;

/** Browsers ask for /favicon.ico on every page (and log a 404 without it); the layout links /favicon.svg. */
export const FAVICON_PATHS: readonly string[] = ['/favicon.ico', '/favicon.svg'];

export function sendFavicon(ctx: Context): void {
  ctx.type = 'image/svg+xml';
  ctx.set('Cache-Control', 'public, max-age=86400');
  ctx.body = FAVICON;
}
