// WebCrypto RS256 signing latency during a login storm: SLOTS argon2id verifications (Gatehouse's default cost) at a time, on libuv's pool.
// node bench/signing-during-logins.mjs 4                                    # before: 2 per core on libuv's default pool of 4
// node --require ./bin/threadpool.cjs bench/signing-during-logins.mjs 2    # now: 1 per core, pool of cores + 4
import argon2 from 'argon2';
const slots = Number(process.argv[2] ?? 2);
const { subtle } = globalThis.crypto;
const key = await subtle.generateKey(
  { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  false,
  ['sign'],
);
const hash = await argon2.hash('pw', { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 });
let stop = false;
const storm = Array.from({ length: slots }, async () => {
  while (!stop) await argon2.verify(hash, 'pw');
});
await new Promise((r) => setTimeout(r, 300));
const data = new Uint8Array(300);
const latencies = [];
const end = Date.now() + 4000;
while (Date.now() < end) {
  const t = performance.now();
  await subtle.sign('RSASSA-PKCS1-v1_5', key.privateKey ?? key, data);
  latencies.push(performance.now() - t);
}
stop = true;
await Promise.all(storm);
latencies.sort((a, b) => a - b);
const p = (q) => latencies[Math.floor(q * (latencies.length - 1))].toFixed(1);
console.log(
  JSON.stringify({
    pool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    argon2Slots: slots,
    signatures: latencies.length,
    p50: p(0.5),
    p99: p(0.99),
    max: p(1),
  }),
);
