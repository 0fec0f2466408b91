// BENCH_CLUSTER=1 only: Gatehouse's compiled build as a node:cluster primary
// whose BENCH_WORKERS workers each run `dist/main.js` and share the port.
// Prints "READY <pids>" on stderr once every worker listens.
import cluster from 'node:cluster';

const workers = Number(process.env.BENCH_WORKERS ?? '2');

if (cluster.isPrimary) {
  let listening = 0;
  const pids = [];
  for (let index = 0; index < workers; index += 1) pids.push(cluster.fork().process.pid);
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
  await import('../dist/main.js');
}
