import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** header.payload of a client-credentials token: the input every measurement here signs. */
const TOKEN_SIZED_INPUT = 'x'.repeat(420);

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
  const seconds = Math.max(1, Date.now() - begin) / 1000;
  process.stdout.write(JSON.stringify({ count, seconds }) + '\\n', () => process.exit(0));
});
process.stdout.write('ready\\n');
`;

/**
 * RS256 signatures per second of node:crypto, with the key size Gatehouse
 * generates and a JWT-sized input, by `processes` processes signing in a
 * loop, started together, their rates summed. With one, the other cores
 * idle: what one signature costs (`1000 / it` ms of CPU). With one per
 * core: the machine's signing limit with every core busy, as the argon2 rate
 * is measured (that one on one process's pool threads). On a virtual
 * machine this can be less than one core's rate times the cores (two
 * virtual CPUs sharing a physical core, or one slowed by the host's other
 * guests), and a server using every core meets that too. Separate processes
 * share no lock or allocator of one process; two threads of one process
 * read a little less here.
 */
export async function measureSigning(modulusLength: number, processes: number, seconds: number): Promise<number> {
  const children = Array.from({ length: processes }, () =>
    spawn(process.execPath, ['-e', SIGNING_PROCESS, String(modulusLength), TOKEN_SIZED_INPUT], { stdio: ['pipe', 'pipe', 'inherit'] }),
  );
  // 'close' once a child has exited and its pipes are shut; a child that could not start may only report 'error'.
  const exited = children.map(
    (child) =>
      new Promise<void>((resolve) => {
        child.once('close', () => resolve());
        child.once('error', () => resolve());
      }),
  );
  let timer: NodeJS.Timeout | undefined;
  // A child that cannot start, dies, or never answers fails the measurement instead of the harness or hanging it.
  const failed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the signing processes did not answer in time')), seconds * 1000 + 30_000);
    for (const child of children) {
      child.once('error', reject);
      child.stdin.on('error', reject);
    }
  });
  try {
    const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    const nextLine = async (index: number) => {
      const { value, done } = await (lines[index] as AsyncIterator<string>).next();
      if (done) throw new Error('a signing process exited early');
      return value as string;
    };
    await Promise.race([Promise.all(children.map((_, index) => nextLine(index))), failed]);
    const deadline = Date.now() + seconds * 1000;
    for (const child of children) child.stdin.write(`${deadline}\n`);
    const results = await Promise.race([
      Promise.all(children.map(async (_, index) => JSON.parse(await nextLine(index)) as { count: number; seconds: number })),
      failed,
    ]);
    const perSecond = results.reduce((sum, result) => sum + result.count / result.seconds, 0);
    if (!Number.isFinite(perSecond) || perSecond <= 0) throw new Error(`the signing processes measured ${perSecond} signatures/s`);
    return Math.round(perSecond);
  } finally {
    clearTimeout(timer);
    failed.catch(() => {});
    for (const child of children) child.kill();
    await Promise.all(exited);
  }
}
