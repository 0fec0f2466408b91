import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { AppError } from '../http/errors.js';
import type { Logger } from '../log.js';
import { commands, UsageError, type CliIo } from './commands.js';
import { openCliContext } from './context.js';
import { openDatabase } from '../db/open-database.js';
import { serve } from '../serve.js';
import { formatRecord, formatTable } from './output.js';

// Exit codes scripts can rely on.
const EXIT = { ok: 0, failed: 1, usage: 2, rejected: 3 } as const;

/** The real process's streams. */
export const processIo: CliIo = {
  stdout: (text) => console.log(text),
  stderr: (text) => console.error(text),
  async readStdin() {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
    return Buffer.concat(chunks).toString('utf8');
  },
};

// Progress goes to stderr so that stdout is only the result.
const progressLogOn = (io: CliIo): Logger => ({ info: io.stderr, warn: io.stderr, error: io.stderr });

/** `gatehouse migrate`: applies the committed migrations and says which. */
async function migrate(argv: string[], environment: Record<string, string | undefined>, io: CliIo): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout('gatehouse migrate: apply database migrations (the server also does at start)');
    return EXIT.ok;
  }
  try {
    const database = await openDatabase(loadConfig(environment), progressLogOn(io), { reuseRunning: true });
    await database.close();
    io.stdout('database schema is up to date');
    return EXIT.ok;
  } catch (error) {
    io.stderr(`gatehouse migrate: ${(error as Error).message}`);
    return error instanceof ConfigError ? EXIT.usage : EXIT.failed;
  }
}

function help(): string {
  const lines = Object.values(commands).map((command) => `  gatehouse ${command.usage}\n      ${command.summary}`);
  lines.push('  gatehouse serve\n      Run the server (what npm start does)', '  gatehouse migrate\n      Apply database migrations');
  return `Usage:\n${lines.join('\n')}\n\nConfiguration comes from the same environment variables as the server (DATABASE_URL or GATEHOUSE_DATA_DIR, GATEHOUSE_SECRET).\nExit codes: 0 done, 1 failed, 2 usage error, 3 rejected input (validation or conflict).`;
}

/**
 * Runs one `gatehouse` command line and returns its exit code. bin.ts runs it
 * on the process; tests run it in process with their own `io`.
 */
export async function runCli(argv: string[], environment: Record<string, string | undefined>, io: CliIo = processIo): Promise<number> {
  const print = (text: string) => {
    io.stdout(text);
    return EXIT.ok;
  };
  if (argv[0] === 'serve') {
    if (argv.includes('--help')) return print('gatehouse serve: run the server (what npm start does), configured by the environment');
    await serve(environment);
    return new Promise<number>(() => {}); // runs until a signal; serve() exits the process
  }
  if (argv[0] === 'migrate') return migrate(argv, environment, io);
  // Commands are two words (`users create`) or three (`users roles set`).
  const words = commands[argv.slice(0, 3).join(' ')] ? 3 : 2;
  const name = argv.slice(0, words).join(' ');
  const command = commands[name];
  if (!command) {
    const wantsHelp = argv.length === 0 || argv.includes('--help') || argv.includes('-h');
    if (wantsHelp) io.stdout(help());
    else io.stderr(`gatehouse: unknown command "${argv.join(' ')}"\n\n${help()}`);
    return wantsHelp ? EXIT.ok : EXIT.usage;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv.slice(words),
      options: { ...command.options, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    io.stderr(`gatehouse ${name}: ${(error as Error).message}\nUsage: gatehouse ${command.usage}`);
    return EXIT.usage;
  }
  if (values.help) return print(`${command.summary}\n\nUsage: gatehouse ${command.usage}`);
  const fromOption = command.positionalOption ? values[command.positionalOption] : undefined;
  if (typeof fromOption === 'string' && positionals.length === 0) positionals = [fromOption];
  if (positionals.length !== (command.positional ? 1 : 0)) {
    io.stderr(
      `gatehouse ${name}: ${command.positional ? `expects one ${command.positional}` : 'takes no positional arguments'}\nUsage: gatehouse ${command.usage}`,
    );
    return EXIT.usage;
  }

  let context: Awaited<ReturnType<typeof openCliContext>> | undefined;
  try {
    context = await openCliContext(loadConfig(environment), progressLogOn(io));
    const { record, rows, columns, note } = await command.run(context, values, positionals, io);
    io.stdout(rows ? formatTable(rows, Boolean(values.json), columns) : formatRecord(record ?? {}, Boolean(values.json)));
    if (note && !values.json) io.stderr(note);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`gatehouse ${name}: ${error.message}\nUsage: gatehouse ${command.usage}`);
      return EXIT.usage;
    }
    if (error instanceof AppError) {
      io.stderr(`gatehouse ${name}: ${error.code}: ${error.description}`);
      return EXIT.rejected;
    }
    if (error instanceof ConfigError) {
      io.stderr(`gatehouse: configuration error: ${error.message}`);
      return EXIT.usage;
    }
    io.stderr(`gatehouse ${name}: ${(error as Error).message}`);
    return EXIT.failed;
  } finally {
    await context?.close();
  }
}
