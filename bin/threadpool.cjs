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

// Linux: the pool's threads run at a lower priority (nice +10), the event
// loop's thread at the process's own. Requests are served one step at a
// time by the event loop thread; each token sends its signature to the pool,
// whose thread, just woken, took the CPU from the event loop at once (the
// scheduler favours threads that sleep a lot), so the loop, the one thread
// every request waits for, sat descheduled while the other core idled.
// Lowered, the pool's threads get whatever the loop leaves: on two cores,
// client credentials went from ~3,400 to ~3,900 tokens/s (docs/performance.md;
// nice 19 measured the same). The pool still gets a core of its own whenever
// the loop is busy, and all the CPU the loop leaves.
// The pool starts its threads all at once, inside the first call that needs
// one, so the threads that appear across that call are the pool's.
if (process.platform === 'linux') {
  const { accessSync, access, readdirSync } = require('node:fs');
  const { getPriority, setPriority } = require('node:os');
  const threads = () => readdirSync('/proc/self/task').map(Number);
  try {
    accessSync('/proc/self/task');
    const before = new Set(threads());
    access(__filename, () => {});
    const lowered = Math.min(19, getPriority() + 10);
    for (const thread of threads()) if (!before.has(thread)) setPriority(thread, lowered);
  } catch {
    // No /proc, or a priority this process may not set: the pool keeps the process's priority.
  }
}
