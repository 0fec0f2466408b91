import { createSecretKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientService } from '../../../src/clients/clients.js';
import type { PrismaClient } from '../../../src/db/prisma.js';
import { createDevicePollPacing, type DevicePollPacing } from '../../../src/oidc/device/poll-pacing.js';
import { createAdapterFactory, storageId } from '../../../src/oidc/prisma-adapter.js';
import { createMigratedDatabase } from '../../support/services.js';
import { dataStatements, statementsSentBy } from '../../support/statements-sent.js';

const key = createSecretKey(randomBytes(32));

describe('device poll pacing (RFC 8628 §3.5)', () => {
  let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
  let prisma: PrismaClient;
  let adapterFor: ReturnType<typeof createAdapterFactory>;
  let pacing: DevicePollPacing;

  /** A stored device code, as oidc-provider saves one at device authorization. */
  const newDeviceCode = async () => {
    const deviceCode = randomBytes(32).toString('base64url');
    await adapterFor('DeviceCode').upsert(deviceCode, { jti: deviceCode, userCode: randomBytes(4).toString('hex') }, 600);
    return deviceCode;
  };
  /** Makes the last poll look `seconds` older, as waiting would. */
  const wait = (deviceCode: string, seconds: number) => prisma.$executeRaw`
    UPDATE device_code_polls SET last_polled_at = last_polled_at - make_interval(secs => ${seconds}) WHERE id = ${storageId(deviceCode)}`;

  beforeAll(async () => {
    database = await createMigratedDatabase();
    prisma = database.prisma;
    adapterFor = createAdapterFactory(prisma, createClientService(prisma, key), key);
    pacing = createDevicePollPacing(prisma, 5);
  });
  afterAll(() => database?.drop());

  it('lets the first poll through with the configured interval', async () => {
    expect(await pacing.recordPoll(await newDeviceCode())).toEqual({ tooEarly: false, intervalSeconds: 5 });
  });

  it('says too early when the interval has not passed, and adds 5 seconds to the interval each time', async () => {
    const deviceCode = await newDeviceCode();
    await pacing.recordPoll(deviceCode);
    expect(await pacing.recordPoll(deviceCode)).toEqual({ tooEarly: true, intervalSeconds: 10 });
    await wait(deviceCode, 6);
    // Six seconds would have been enough before; now the interval is 10.
    expect(await pacing.recordPoll(deviceCode)).toEqual({ tooEarly: true, intervalSeconds: 15 });
    await wait(deviceCode, 16);
    expect(await pacing.recordPoll(deviceCode)).toEqual({ tooEarly: false, intervalSeconds: 15 });
  });

  it('paces each device code on its own', async () => {
    const [first, second] = [await newDeviceCode(), await newDeviceCode()];
    await pacing.recordPoll(first);
    expect(await pacing.recordPoll(second)).toEqual({ tooEarly: false, intervalSeconds: 5 });
  });

  it('lets exactly one of two simultaneous first polls through', async () => {
    const deviceCode = await newDeviceCode();
    const outcomes = await Promise.all([pacing.recordPoll(deviceCode), pacing.recordPoll(deviceCode)]);
    expect(outcomes.map((outcome) => outcome.tooEarly).sort()).toEqual([false, true]);
  });

  it('records a poll in one prepared statement sent straight through pg', async () => {
    const deviceCode = await newDeviceCode();
    let outcome: Awaited<ReturnType<DevicePollPacing['recordPoll']>> | undefined;
    const sent = await statementsSentBy(async () => {
      outcome = await pacing.recordPoll(deviceCode);
    });
    expect(outcome).toEqual({ tooEarly: false, intervalSeconds: 5 });
    // Every poll of every device sends it: one named statement (a new connection's own set-up aside),
    // not through Prisma's query engine, whose pg adapter asks for rows as arrays.
    const statements = dataStatements(sent);
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ text: expect.stringMatching(/^\s*INSERT INTO device_code_polls/), name: expect.any(String) });
    expect(statements[0]?.rowMode).toBeUndefined();
  });

  it('records nothing for a device code that is not stored', async () => {
    expect(await pacing.recordPoll('no-such-device-code')).toEqual({ tooEarly: false, intervalSeconds: 5 });
    expect(await prisma.deviceCodePoll.count({ where: { id: storageId('no-such-device-code') } })).toBe(0);
  });

  it('stores only the hash of the device code, and forgets the pace when the device code row goes', async () => {
    const deviceCode = await newDeviceCode();
    await pacing.recordPoll(deviceCode);
    const dump = JSON.stringify(await prisma.$queryRawUnsafe('SELECT * FROM device_code_polls'));
    expect(dump).not.toContain(deviceCode);
    await adapterFor('DeviceCode').destroy(deviceCode);
    expect(await prisma.deviceCodePoll.count({ where: { id: storageId(deviceCode) } })).toBe(0);
  });
});
