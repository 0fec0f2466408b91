import { generateKeyPairSync, sign } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** header.payload of a client-credentials token: the input every measurement here signs. */
const TOKEN_SIZED_INPUT = 'x'.repeat(420);

/**
 * RS256 signatures per second of node:crypto on one core (this thread), with
 * the key size Gatehouse generates and a JWT-sized input, with the other
 * cores idle: what one signature costs (`1000 / this` ms of CPU).
 */
export function measureSigningLimit(modulusLength: number, seconds: number): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength });
  const input = Buffer.from(TOKEN_SIZED_INPUT);
  for (let index = 0; index < 50; index += 1) sign('sha256', input, privateKey); // warm-up
  const begin = performance.now();
  const deadline = begin + seconds * 1000;
  let count = 0;
  while (performance.now() < deadline && count < 1_000_000) {
    sign('sha256', input, privateKey);
    count += 1;
  }
  return Math.round(count / ((performance.now() - begin) / 1000));
}

// Each process makes its key and warms up, says it is ready, then signs until the deadline (ms since the epoch) it is sent.
const SIGNING_PROCESS = `
const { generateKeyPairSync, sign } = require('node:crypto');
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: Number(process.argv[1]) });
const input = Buffer.from(process.argv[2]);
for (let index = 0; index < 50; index += 1) sign('sha256', input, privateKey);
process.stdin.once('data', (line) => {
  const deadline = Number(String(line).trim());
  const begin = Date.now();
  let count = 0;
  while (Date.now() < deadline) {
    sign('sha256', input, privateKey);
    count += 1;
  }
  process.stdout.write(JSON.stringify({ count, seconds: (Date.now() - begin) / 1000 }) + '\\n', () => process.exit(0));
});
process.stdout.write('ready\\n');
`;

/**
 * RS256 signatures per second on `cores` cores at once (one process each,
 * signing in a loop, started together): the machine's signing limit,
 * measured as the argon2 rate is, with every core busy. On a virtual machine
 * this can be less than one core's rate times the cores (two virtual CPUs
 * sharing a physical core, or one slowed by the host's other guests), and a
 * server using every core meets that too. Processes, not threads of one: no
 * lock or allocator of one process is shared, so this is the machine's own.
 */
export async function measureSigningOnAllCores(modulusLength: number, cores: number, seconds: number): Promise<number> {
  const children = Array.from({ length: cores }, () =>
    spawn(process.execPath, ['-e', SIGNING_PROCESS, String(modulusLength), TOKEN_SIZED_INPUT], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  try {
    const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    const nextLine = async (index: number) => {
      const { value, done } = await (lines[index] as AsyncIterator<string>).next();
      if (done) throw new Error('a signing process exited early');
      return value as string;
    };
    await Promise.all(children.map((_, index) => nextLine(index)));
    const deadline = Date.now() + seconds * 1000;
    for (const child of children) child.stdin.write(`${deadline}\n`);
    const results = await Promise.all(
      children.map(async (_, index) => JSON.parse(await nextLine(index)) as { count: number; seconds: number }),
    );
    return Math.round(results.reduce((sum, result) => sum + result.count / result.seconds, 0));
  } finally {
    for (const child of children) child.kill();
  }
}
