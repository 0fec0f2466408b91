import { generateKeyPairSync, sign } from 'node:crypto';

/**
 * RS256 signatures per second of node:crypto on one core (this thread), with
 * the key size Gatehouse generates and a JWT-sized input: the ceiling any
 * token endpoint on this machine is measured against.
 */
export function measureSigningLimit(modulusLength: number, seconds: number): number {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength });
  const input = Buffer.from('x'.repeat(420)); // header.payload of a client-credentials token
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
