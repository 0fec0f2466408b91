#!/usr/bin/env node
// The `gatehouse` command (and `npm start`, which is `gatehouse serve`).
// Production runs the compiled CLI in dist/ (`npm run build`) with no
// TypeScript tooling. In a development checkout whose dist/ is missing or
// older than src/, it runs the TypeScript sources through tsx's loader in this
// process instead, so `npm ci && npm start` works on a fresh clone and an
// edit never runs stale code.
import { existsSync, readdirSync, statSync } from 'node:fs';

const src = new URL('../src/', import.meta.url);
const stamp = new URL('../dist/.build-stamp', import.meta.url);

function newestChange(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
  }
  return newest;
}

// `gatehouse serve` (npm start) loads only the server, as `node dist/main.js`
// does, not the CLI's commands: a configuration error is then the only line.
const entry = process.argv.length === 3 && process.argv[2] === 'serve' ? 'main' : 'cli/bin';

const compiledIsCurrent = existsSync(stamp) && (!existsSync(src) || newestChange(src) <= statSync(stamp).mtimeMs);

if (compiledIsCurrent) {
  await import(`../dist/${entry}.js`);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    console.error(
      'gatehouse: there is no current build in dist/ and tsx (a development dependency) is not installed: run `npm run build` first.',
    );
    process.exit(1);
  }
  register();
  await import(`../src/${entry}.ts`);
}
