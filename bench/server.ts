import cluster from 'node:cluster';

/**
 * Gatehouse as the benchmark runs it: `npm start`'s entry point, or with
 * BENCH_WORKERS=N a node:cluster primary whose N workers each run it and
 * share the port. A cluster prints "READY <pids>" once every worker listens.
 */
const workers = Number(process.env.BENCH_WORKERS ?? '0');

if (workers > 0 && cluster.isPrimary) {
  let listening = 0;
  const pids: number[] = [];
  for (let index = 0; index < workers; index += 1) pids.push(cluster.fork().process.pid as number);
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) console.error(`READY ${[process.pid, ...pids].join(' ')}`);
  });
  const stop = () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  // A single process (the harness polls until it answers), or one worker.
  await import('../src/main.js');
}
