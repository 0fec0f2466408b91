import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The console's one script (copy buttons, confirmation dialogs), served from /assets (CSP `script-src 'self'`). */
export function consoleAssets(): Map<string, string> {
  return new Map([['/assets/console.js', readFileSync(fileURLToPath(new URL('../../views/console/console.js', import.meta.url)), 'utf8')]]);
}
