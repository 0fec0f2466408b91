import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The scripts the passkey forms use, served by Gatehouse itself (CSP
 * `script-src 'self'`: no inline script, no outside host): the
 * @simplewebauthn/browser bundle and views/passkey.js.
 */
export function passkeyAssets(): Map<string, string> {
  const packageRoot = dirname(dirname(createRequire(import.meta.url).resolve('@simplewebauthn/browser')));
  return new Map([
    ['/assets/simplewebauthn-browser.js', readFileSync(join(packageRoot, 'dist/bundle/index.umd.min.js'), 'utf8')],
    ['/assets/passkey.js', readFileSync(fileURLToPath(new URL('../../views/passkey.js', import.meta.url)), 'utf8')],
  ]);
}
