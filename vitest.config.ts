import { defineConfig } from 'vitest/config';

/**
 * Two tiers. Unit tests boot nothing (no Postgres, no Gatehouse server): they
 * are listed here, or named *.unit.test.ts, and `npm run test:unit` runs them
 * in seconds. Every other test file is an integration test: it gets the
 * embedded Postgres of the global setup and may start the server. A new test
 * file is an integration test unless it is added to UNIT_TESTS.
 */
const UNIT_TESTS = [
  'test/**/*.unit.test.ts',
  'test/accounts/passwords.test.ts',
  'test/clients/lookup-cache.test.ts',
  'test/config/config.test.ts',
  'test/config/master-secret.test.ts',
  'test/interactions/device-pages.test.ts',
  'test/keys/encryption.test.ts',
  'test/keys/key-lifecycle.test.ts',
  'test/oidc/lifetimes.test.ts',
  // oidc-provider itself, in memory on a loopback port: no Postgres, no Gatehouse.
  'test/oidc/provider-internals.test.ts',
];

export default defineConfig({
  test: {
    pool: 'forks',
    // Each integration file gets its own database; two at a time suits a 2-core machine.
    maxWorkers: 2,
    // Generous: the spawned-CLI tests take tens of seconds on a shared, loaded 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // What expect.poll waits for without its own timeout: a request to arrive, a
    // background pass to show. Vitest's default (1 s) is a guess a loaded
    // machine need not honour; a poll that succeeds returns as soon as it does.
    expect: { poll: { timeout: 10_000 } },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT_TESTS } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: UNIT_TESTS,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
