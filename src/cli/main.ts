import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/config.js';
import { AppError } from '../http/errors.js';
import type { Logger } from '../log.js';
import { serve } from '../serve.js';
import type { AdminApi } from './admin-api.js';
import { commands, UsageError, type CliIo, type Command } from './commands.js';
import type { CommandContext, OptionSpec } from './commands/command.js';
import { openCliContext, type CliContext } from './context.js';
import { openDatabase } from '../db/open-database.js';
import { createLocalAdminApi } from './local-admin-api.js';
import { formatRecord, formatTable } from './output.js';
import { createRemoteAdminApi, clientCredentialsToken, UnreachableError } from './remote-admin-api.js';
import { readStoredLogin, REMOTE_VARIABLES, serverUrl, settingOrFile, storeLogin } from './remote-session.js';
import { refreshPersonTokens } from './device-login.js';

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

/** The flags every command takes. */
const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'Print the result, and any error, as JSON' },
  url: { type: 'string', description: "A server's URL: work through its admin API (default GATEHOUSE_URL, else the stored login)" },
  local: {
    type: 'boolean',
    description: "Work on this machine's database directly (DATABASE_URL or GATEHOUSE_DATA_DIR, GATEHOUSE_SECRET)",
  },
  help: { type: 'boolean', description: 'Show this help' },
};

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `gatehouse migrate`: applies the committed migrations and says which. */
async function migrate(argv: string[], environment: Record<string, string | undefined>, io: CliIo): Promise<number> {
  if (argv.includes('--help')) {
    io.stdout('gatehouse migrate: apply database migrations (the server also does at start)');
    return EXIT.ok;
  }
  try {
    const database = await openDatabase(loadConfig(serverEnvironment(environment)), progressLogOn(io), { reuseRunning: true });
    await database.close();
    io.stdout('database schema is up to date');
    return EXIT.ok;
  } catch (error) {
    io.stderr(`gatehouse migrate: ${(error as Error).message}`);
    return error instanceof ConfigError ? EXIT.usage : EXIT.failed;
  }
}

/** The environment without the CLI's own remote variables, which are not server settings. */
const serverEnvironment = (environment: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(environment).filter(([name]) => !REMOTE_VARIABLES.includes(name)));

function help(): string {
  const lines = Object.values(commands).map((command) => `  gatehouse ${command.usage}\n      ${command.summary}`);
  lines.push('  gatehouse serve\n      Run the server (what npm start does)', '  gatehouse migrate\n      Apply database migrations');
  return [
    `gatehouse ${VERSION}`,
    '',
    'Usage:',
    ...lines,
    '',
    'Every command takes --json, --help, and --url URL or --local.',
    'Remote: --url (or GATEHOUSE_URL) with GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET (or their _FILE variants), or after `gatehouse login`.',
    'Local (the default when no server is configured, and --local): the same environment as the server (DATABASE_URL or GATEHOUSE_DATA_DIR, GATEHOUSE_SECRET).',
    '`gatehouse help COMMAND` or `gatehouse COMMAND --help` explains a command and each of its flags.',
    'Exit codes: 0 done, 1 failed (or the server unreachable), 2 usage error, 3 rejected (validation, conflict, not found, refused).',
  ].join('\n');
}

function commandHelp(name: string, command: Command): string {
  const options = Object.entries({ ...command.options, ...GLOBAL_OPTIONS });
  const width = Math.max(...options.map(([flag]) => flag.length)) + 2;
  const flags = options.map(([flag, spec]) => `  --${flag.padEnd(width)}${spec.description}`);
  const where =
    command.needs === 'database'
      ? '\nRuns on the database directly (like --local): DATABASE_URL or GATEHOUSE_DATA_DIR, GATEHOUSE_SECRET.'
      : '';
  return `gatehouse ${name}: ${command.summary}\n\nUsage: gatehouse ${command.usage}\n\nFlags:\n${flags.join('\n')}${where}`;
}

/** The command named by the first three, two or one words. */
function findCommand(argv: string[]): { name: string; words: number; command: Command } | undefined {
  for (const words of [3, 2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = commands[name];
    if (command && argv.length >= words) return { name, words, command };
  }
  return undefined;
}

const ORDINAL = (n: number) =>
  `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;

/**
 * An admin API message naming a field (`scopes.0: Invalid input`, as zod
 * reports it) as a sentence naming the flag the operator typed.
 */
export function describeForFlags(description: string, fields: Record<string, string> | undefined): string {
  const match = /^([A-Za-z_]+)(?:\.(\d+))?(?:\.[\w.]+)?: (.*)$/s.exec(description);
  const flag = match?.[1] ? fields?.[match[1]] : undefined;
  if (!match || !flag) return description;
  const [, , index, message = ''] = match;
  const which = index === undefined ? flag : `the ${ORDINAL(Number(index) + 1)} ${flag}`;
  if (/received undefined/.test(message)) return `${which} is required`;
  return `${which} is not valid: ${message.replace(/^Invalid input$/, 'not an accepted value')}`;
}

type Failure = { exit: number; code: string; description: string; usage?: string };

function classify(error: unknown, command: Command | undefined): Failure {
  if (error instanceof UsageError) return { exit: EXIT.usage, code: 'usage_error', description: error.message, usage: command?.usage };
  if (error instanceof AppError)
    return { exit: EXIT.rejected, code: error.code, description: describeForFlags(error.description, command?.fields) };
  if (error instanceof ConfigError)
    return { exit: EXIT.usage, code: 'configuration_error', description: `configuration error: ${error.message}` };
  if (error instanceof UnreachableError) return { exit: EXIT.failed, code: 'unreachable', description: error.message };
  return { exit: EXIT.failed, code: 'failed', description: (error as Error).message };
}

/** One line (or, with --json, `{error, error_description}`) on stderr, and the exit code. */
function report(io: CliIo, json: boolean, name: string, failure: Failure): number {
  if (json) io.stderr(JSON.stringify({ error: failure.code, error_description: failure.description }));
  else if (failure.code === 'usage_error')
    io.stderr(`gatehouse ${name}: ${failure.description}${failure.usage ? `\nUsage: gatehouse ${failure.usage}` : ''}`);
  else if (failure.code === 'configuration_error') io.stderr(`gatehouse: ${failure.description}`);
  else if (failure.code === 'failed' || failure.code === 'unreachable') io.stderr(`gatehouse ${name}: ${failure.description}`);
  else io.stderr(`gatehouse ${name}: ${failure.code}: ${failure.description}`);
  return failure.exit;
}

/** The admin API over HTTP: client credentials from the environment, else the stored login for that server. */
async function remoteApi(url: string | undefined, environment: Record<string, string | undefined>): Promise<AdminApi> {
  const stored = await readStoredLogin(environment);
  const target = url ?? stored?.url ?? '';
  const clientId = settingOrFile(environment, 'GATEHOUSE_CLIENT_ID');
  const secret = settingOrFile(environment, 'GATEHOUSE_CLIENT_SECRET');
  if (clientId || secret) {
    if (!clientId || !secret) throw new UsageError('set both GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET (or their _FILE variants)');
    let token: Promise<string> | undefined;
    return createRemoteAdminApi(target, () => {
      token ??= clientCredentialsToken(target, clientId, secret).then((answer) => answer.accessToken);
      return token;
    });
  }
  if (!stored || stored.url !== target) {
    throw new UsageError(
      `no credentials for ${target}: set GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET (or their _FILE variants), or run gatehouse login --url ${target}`,
    );
  }
  const expired = new AppError(
    401,
    'invalid_token',
    `the stored login for ${stored.url} expired at ${stored.expires_at}: run gatehouse login --url ${stored.url} again`,
  );
  let current = stored;
  return createRemoteAdminApi(
    target,
    async () => {
      // A few seconds early: the token must still be good when the request arrives.
      if (Date.parse(current.expires_at) - 5000 > Date.now()) return current.access_token;
      if (!current.refresh_token) throw expired;
      const renewed = await refreshPersonTokens(current.url, current.client_id, current.refresh_token);
      current = {
        ...current,
        access_token: renewed.accessToken,
        expires_at: renewed.expiresAt.toISOString(),
        ...(renewed.refreshToken ? { refresh_token: renewed.refreshToken } : {}),
      };
      await storeLogin(environment, current);
      return current.access_token;
    },
    (error) => (/expired/.test(error.description) ? expired : error),
  );
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
  const json = argv.includes('--json');
  if (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version')
    return print(json ? JSON.stringify({ version: VERSION }) : `gatehouse ${VERSION}`);
  if (argv[0] === 'help' && argv.length > 1) {
    const found = findCommand(argv.slice(1));
    if (found) return print(commandHelp(found.name, found.command));
    return report(io, json, 'help', {
      exit: EXIT.usage,
      code: 'usage_error',
      description: `no command "${argv.slice(1).join(' ')}"; gatehouse help lists them`,
    });
  }
  if (argv[0] === 'help') return print(help());
  if (argv[0] === 'serve') {
    if (argv.includes('--help')) return print('gatehouse serve: run the server (what npm start does), configured by the environment');
    await serve(environment);
    return new Promise<number>(() => {}); // runs until a signal; serve() exits the process
  }
  if (argv[0] === 'migrate') return migrate(argv, environment, io);
  const found = findCommand(argv);
  if (!found) {
    const wantsHelp = argv.length === 0 || argv[0] === '--help' || argv[0] === '-h';
    if (wantsHelp) return print(help());
    if (json)
      return report(io, json, argv.join(' '), {
        exit: EXIT.usage,
        code: 'usage_error',
        description: `unknown command "${argv.join(' ')}"`,
      });
    io.stderr(`gatehouse: unknown command "${argv.join(' ')}"\n\n${help()}`);
    return EXIT.usage;
  }
  const { name, words, command } = found;
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    const options = Object.fromEntries(
      Object.entries({ ...command.options, ...GLOBAL_OPTIONS }).map(([flag, spec]) => [
        flag,
        { type: spec.type, ...(spec.multiple ? { multiple: true } : {}) },
      ]),
    );
    ({ values, positionals } = parseArgs({
      args: argv.slice(words),
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    }));
  } catch (error) {
    return report(io, json, name, { exit: EXIT.usage, code: 'usage_error', description: (error as Error).message, usage: command.usage });
  }
  if (values.help) return print(commandHelp(name, command));
  const fromOption = command.positionalOption ? values[command.positionalOption] : undefined;
  if (typeof fromOption === 'string' && positionals.length === 0) positionals = [fromOption];
  if (positionals.length !== (command.positional ? 1 : 0)) {
    const description = command.positional
      ? `expects one ${command.positional}`
      : `takes no positional arguments (got "${positionals.join(' ')}")`;
    return report(io, json, name, { exit: EXIT.usage, code: 'usage_error', description, usage: command.usage });
  }

  let local: CliContext | undefined;
  try {
    const needs = command.needs ?? 'api';
    const url = typeof values.url === 'string' ? values.url : environment.GATEHOUSE_URL || undefined;
    if (values.local && url && typeof values.url === 'string') throw new UsageError('--url and --local do not go together');
    let api: AdminApi = { call: () => Promise.reject(new UsageError('this command does not use the admin API')) };
    if (needs === 'database' || (needs === 'api' && (values.local || (!url && !(await readStoredLogin(environment)))))) {
      if (needs === 'database' && typeof values.url === 'string')
        throw new UsageError('this command works on the database directly: run it with --local');
      local = await openCliContext(loadConfig(serverEnvironment(environment)), progressLogOn(io));
      api = createLocalAdminApi(local);
    } else if (needs === 'api') {
      api = await remoteApi(url === undefined ? undefined : serverUrl(url), environment);
    }
    const context: CommandContext = { api, local, environment };
    const { record, rows, columns, note, nextCursor } = await command.run(context, values, positionals, io);
    io.stdout(rows ? formatTable(rows, json, columns) : formatRecord(record ?? {}, json));
    if (note && !json) io.stderr(note);
    if (nextCursor) io.stderr(`More: add --cursor ${nextCursor} for the next page, or --all for every page.`);
    return EXIT.ok;
  } catch (error) {
    return report(io, json, name, classify(error, command));
  } finally {
    await local?.close();
  }
}
