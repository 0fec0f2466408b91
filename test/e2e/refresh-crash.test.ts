import * as oidc from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';
import type { TestGatehouse } from '../support/gatehouse.js';
import { startWithSampleApp, stopAndDrop, signIn } from '../support/sample-app.js';
import { killSpawnedGatehouses, spawnGatehouse, waitForListening } from '../support/spawned-gatehouse.js';

const OFFLINE = { scope: 'openid email offline_access', prompt: 'consent' };
const FAMILIES = 12;

// Spawned servers and Postgres clusters: slow to start on a loaded 2-core machine.
describe('kill -9 of the server in the middle of refreshes', { timeout: 180_000 }, () => {
  let gatehouse: TestGatehouse | undefined;
  let databaseUrl: string | undefined;
  afterAll(async () => {
    await killSpawnedGatehouses();
    await stopAndDrop(undefined, databaseUrl);
  });

  it('leaves every token family usable with the last refresh token its client received', async () => {
    // Registered in process, then served by a process the test can kill.
    let config: oidc.Configuration;
    ({ gatehouse, databaseUrl, config } = await startWithSampleApp());
    const environment = { ...gatehouse.environment, GATEHOUSE_REFRESH_TOKEN_REUSE_GRACE: '120' };
    await gatehouse.stop();
    gatehouse = undefined;

    const first = spawnGatehouse(environment);
    await waitForListening(first);
    const latest: string[] = [];
    for (let family = 0; family < FAMILIES; family++) latest.push((await signIn(config, OFFLINE)).tokens.refresh_token as string);

    // Every family refreshes in a loop, keeping the newest token it received,
    // until the server dies under it.
    let refreshed = 0;
    const loops = latest.map(async (_, family) => {
      for (;;) {
        try {
          latest[family] = (await oidc.refreshTokenGrant(config, latest[family] as string)).refresh_token as string;
          refreshed++;
        } catch {
          return; // the connection died with the server
        }
      }
    });
    while (refreshed < FAMILIES * 3) await new Promise((resolve) => setTimeout(resolve, 10));
    first.child.kill('SIGKILL');
    await Promise.all(loops);
    await first.exited;

    const second = spawnGatehouse(environment);
    await waitForListening(second);
    const outcomes = await Promise.allSettled(latest.map((token) => oidc.refreshTokenGrant(config, token)));
    const lost = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(lost.map((outcome) => String((outcome as PromiseRejectedResult).reason))).toEqual([]);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});
