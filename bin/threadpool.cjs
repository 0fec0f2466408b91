// Preloaded by the server's command (`node --require ./bin/threadpool.cjs
// dist/main.js`, the Dockerfile's CMD, `npm start`): sizes libuv's thread
// pool before anything starts it (an ES module entry is read through the pool,
// so this cannot be done in dist/main.js; a CommonJS preload runs first).
// argon2 takes up to one thread per core for a whole verification
// (src/accounts/passwords.ts); libuv's default pool of 4 then leaves nothing
// on a 4-core machine, and WebCrypto's RS256 signing, fs and DNS would queue
// behind a login storm (measured in docs/performance.md). So: the cores for
// argon2, plus libuv's default four for everything else. An operator's own
// UV_THREADPOOL_SIZE wins; give it at least the cores plus one.
'use strict';
const { availableParallelism } = require('node:os');

process.env.UV_THREADPOOL_SIZE ??= String(availableParallelism() + 4);
