import { defineConfig } from 'vitest/config';

/**
 * Real-browser tests (headless Chromium from Debian, driven by puppeteer-core):
 * `npm run test:browser`, run by .ci/run after `npm test` when Chromium is
 * installed (it tries `apt-get install chromium` when it is missing).
 */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.browser.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
