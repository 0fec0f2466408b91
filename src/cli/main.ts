import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { AppError } from '../http/errors.js';
import type { Logger } from '../log.js';
import { commands, UsageError } from './commands.js';
import { openCliContext } from './context.js';
import { formatRecord, formatTable } from './output.js';

// Exit codes scripts can rely on.
const EXIT = { ok: 0, failed: 1, usage: 2, rejected: 3 } as const;

function help(): string {
  const lines = Object.values(commands).map((command) => `  gatehouse ${command.usage}\n      ${command.summary}`);
  return `Usage:\n${lines.join('\n')}\n\nConfiguration comes from the same environment variables as the server (DATABASE_URL or GATEHOUSE_DATA_DIR, GATEHOUSE_SECRET).\nExit codes: 0 done, 1 failed, 2 usage error, 3 rejected input (validation or conflict).`;
}

export async function runCli(argv: string[], environment: Record<string, string | undefined>): Promise<number> {
  const name = argv.slice(0, 2).join(' ');
  const command = commands[name];
  if (!command) {
    const wantsHelp = argv.length === 0 || argv.includes('--help') || argv.includes('-h');
    (wantsHelp ? console.log : console.error)(wantsHelp ? help() : `gatehouse: unknown command "${argv.join(' ')}"\n\n${help()}`);
    return wantsHelp ? EXIT.ok : EXIT.usage;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.slice(2),
      options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    console.error(`gatehouse ${name}: ${(error as Error).message}\nUsage: gatehouse ${command.usage}`);
    return EXIT.usage;
  }
  if (values.help) {
    console.log(`${command.summary}\n\nUsage: gatehouse ${command.usage}`);
    return EXIT.ok;
  }

  // Progress goes to stderr so that stdout is only the result.
  const log: Logger = { info: (line) => console.error(line), warn: (line) => console.error(line), error: (line) => console.error(line) };
  let context: Awaited<ReturnType<typeof openCliContext>> | undefined;
  try {
    context = await openCliContext(loadConfig(environment), log);
    const { record, rows, note } = await command.run(context, values);
    console.log(rows ? formatTable(rows, Boolean(values.json)) : formatRecord(record ?? {}, Boolean(values.json)));
    if (note && !values.json) console.error(note);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`gatehouse ${name}: ${error.message}\nUsage: gatehouse ${command.usage}`);
      return EXIT.usage;
    }
    if (error instanceof AppError) {
      console.error(`gatehouse ${name}: ${error.code}: ${error.description}`);
      return EXIT.rejected;
    }
    if (error instanceof ConfigError) {
      console.error(`gatehouse: configuration error: ${error.message}`);
      return EXIT.usage;
    }
    console.error(`gatehouse ${name}: ${(error as Error).message}`);
    return EXIT.failed;
  } finally {
    await context?.close();
  }
}
