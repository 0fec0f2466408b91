// What handing an RS256 signature to another thread costs in CPU, apart from
// the signature itself: `node bench/signing-handoff.mjs` signs for 4 s with 16
// signatures in flight, three ways, and prints the process's CPU (all threads)
// per signature:
//   loop    node:crypto `sign` without a callback, on the event loop;
//   pool    `sign` with a callback, on libuv's thread pool (what Gatehouse
//           does, src/oidc/engine-signing-keys.ts);
//   worker  batches of the signatures asked for in one turn of the loop, one
//           message per batch to each of two worker_threads.
// The difference to `loop` is the hand-off. docs/performance.md, "Logins
// (sixth round)", reads a CPU profile's time inside the hand-off against it.
import { generateKeyPairSync, sign } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const SECONDS = 4;
const IN_FLIGHT = 16;
const WORKERS = 2;
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
// About a JWT access token's signing input.
const data = Buffer.alloc(600, 'a');

function onLoop() {
  return { sign: async (input) => sign('sha256', input, privateKey), close() {} };
}

function onPool() {
  return {
    sign: (input) =>
      new Promise((resolve, reject) =>
        sign('sha256', input, privateKey, (error, signature) => (error ? reject(error) : resolve(signature))),
      ),
    close() {},
  };
}

function onWorkers() {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { sign } = require('node:crypto');
    parentPort.on('message', ({ batch, inputs }) => {
      parentPort.postMessage({ batch, signatures: inputs.map((input) => sign('sha256', input, workerData.key)) });
    });`;
  const workers = Array.from({ length: WORKERS }, () => new Worker(source, { eval: true, workerData: { key: privateKey } }));
  const waiting = new Map();
  let asked = [];
  let nextBatch = 0;
  for (const worker of workers)
    worker.on('message', ({ batch, signatures }) => {
      const resolvers = waiting.get(batch);
      waiting.delete(batch);
      for (const [index, signature] of signatures.entries()) resolvers[index](signature);
    });
  const send = () => {
    const all = asked;
    asked = [];
    const share = Math.ceil(all.length / WORKERS);
    for (let start = 0, index = 0; start < all.length; start += share, index += 1) {
      const part = all.slice(start, start + share);
      const batch = nextBatch++;
      waiting.set(
        batch,
        part.map(({ resolve }) => resolve),
      );
      workers[index].postMessage({ batch, inputs: part.map(({ input }) => input) });
    }
  };
  return {
    sign: (input) =>
      new Promise((resolve) => {
        if (asked.length === 0) setImmediate(send);
        asked.push({ input, resolve });
      }),
    close: () => Promise.all(workers.map((worker) => worker.terminate())),
  };
}

for (const [name, make] of [
  ['loop', onLoop],
  ['pool', onPool],
  ['worker', onWorkers],
]) {
  const signer = make();
  for (let warm = 0; warm < 100; warm += 1) await signer.sign(data);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const deadline = started + SECONDS * 1000;
  let signed = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < deadline) {
        await signer.sign(data);
        signed += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const perSignature = (micros) => (micros / signed).toFixed(1);
  console.log(
    `${name.padEnd(6)} ${String(Math.round(signed / seconds)).padStart(5)} signatures/s, CPU ${perSignature(cpu.user + cpu.system)} µs each (user ${perSignature(cpu.user)}, system ${perSignature(cpu.system)})`,
  );
  await signer.close();
}
