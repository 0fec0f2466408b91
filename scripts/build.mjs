// `npm run build`: compiles src/ to dist/ (or to the folder given as the only
// argument, which must sit directly in the project root so that dist's
// ../../views and ../../prisma paths still resolve). A stamp written last
// tells bin/gatehouse.mjs that the build is complete and how fresh it is.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? 'dist');
if (dirname(outDir) !== root) {
  console.error(`build: the output folder must be directly in ${root} (got ${outDir})`);
  process.exit(2);
}

rmSync(outDir, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
writeFileSync(resolve(outDir, '.build-stamp'), `${new Date().toISOString()}\n`);
console.error(`build: compiled src/ to ${basename(outDir)}/`);
