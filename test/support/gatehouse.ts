import { loadConfig } from '../../src/config/config.js';
import { testPort } from './ports.js';
import { createJsonLogger, type Logger } from '../../src/log.js';
import { startGatehouse, type RunningGatehouse } from '../../src/server.js';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

/**
 * The server's real JSON logger (pino, with its redaction), writing into
 * memory. `records` are the parsed JSON lines (fields included, as
 * written); `lines` read `<level> <message>`.
 */
export function createRecordingLogger(): Logger & { lines: string[]; records: Record<string, unknown>[] } {
  const lines: string[] = [];
  const records: Record<string, unknown>[] = [];
  const logger = createJsonLogger({
    level: 'info',
    destination: {
      write(line: string) {
        const record = JSON.parse(line) as Record<string, unknown>;
        records.push(record);
        lines.push(`${String(record.level)} ${String(record.msg)}`);
      },
    },
  });
  return Object.assign(logger, { lines, records });
}

export interface TestGatehouse extends RunningGatehouse {
  readonly issuer: string;
  /** What the server printed once to the console (the generated admin client). */
  readonly announcements: string[];
  readonly log: ReturnType<typeof createRecordingLogger>;
  readonly environment: Record<string, string>;
}

/**
 * A real Gatehouse on loopback against `databaseUrl`. Pass the same
 * `environment` again (it pins the port) to restart the same instance.
 */
export async function startTestGatehouse(databaseUrl: string, environment: Record<string, string> = {}): Promise<TestGatehouse> {
  const port = environment.PORT ?? String(await testPort());
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    PORT: port,
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    GATEHOUSE_SECRET: TEST_SECRET,
    ...environment,
  };
  const log = createRecordingLogger();
  const announcements: string[] = [];
  const running = await startGatehouse(loadConfig(env), log, { announce: (text) => void announcements.push(text) });
  return Object.assign(running, { issuer: env.ISSUER as string, log, environment: env, announcements });
}
