import { readFile } from 'node:fs/promises';
import { duration } from '../../config/config.js';
import type { AdminApi } from '../admin-api.js';
import type { CliContext } from '../context.js';
import type { Row } from '../output.js';

/** Where a command reads and writes: the process's streams, or a test's buffers. */
export interface CliIo {
  /** The result (a record, a table, JSON). */
  stdout(text: string): void;
  /** Progress, notes and errors. */
  stderr(text: string): void;
  /** All of standard input, for `--password-stdin`. */
  readStdin(): Promise<string>;
}

export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command printed: a record as "key value" lines, rows as a table; both as JSON with --json. */
export interface CommandResult {
  readonly record?: Row;
  readonly rows?: Row[];
  /** The table's columns (all fields by default); --json prints every field. */
  readonly columns?: readonly string[];
  /** Said on stderr after the result, unless --json. */
  readonly note?: string;
  /** A list with more pages: the cursor of the next (said on stderr). */
  readonly nextCursor?: string | null;
}

/** A flag: its type and what it means, with its allowed values (shown by `--help`). */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly description: string;
}

/** What a command runs on: the admin API (in process with --local, else over HTTP), and the database with --local. */
export interface CommandContext {
  readonly api: AdminApi;
  /** The services on the database: only with --local (commands with `needs: 'database'`). */
  readonly local: CliContext | undefined;
  readonly environment: Record<string, string | undefined>;
}

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Record<string, OptionSpec>;
  /** The name of the one positional argument the command takes, if any (e.g. an id). */
  readonly positional?: string;
  /** The positional may be given as this option instead (kept for scripts that use it). */
  readonly positionalOption?: string;
  /**
   * `api` (default): the admin API, local or remote. `database`: the database
   * and master secret, so `--local` only (recovery work). `none`: neither
   * (login, logout).
   */
  readonly needs?: 'api' | 'database' | 'none';
  /** Admin API field → the flag that sets it, so a refused field is named as the flag the operator typed. */
  readonly fields?: Record<string, string>;
  run(context: CommandContext, values: OptionValues, positionals: string[], io: CliIo): Promise<CommandResult>;
}

/** Changes made from the CLI with --local are audited as the operator's. */
export const CLI_ACTOR = { actor: 'cli' } as const;

/** A command used wrongly: exit code 2 and the command's usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
export const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** `--flag true|false`; undefined when not given. */
export function booleanFrom(flag: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new UsageError(`--${flag} takes true or false`);
}

/** `--ttl 900`, `15m`, `12h`, `1d`: seconds, read as the server reads its durations (GATEHOUSE_* settings). */
export function secondsFrom(flag: string, value: unknown, max: number): number | undefined {
  if (value === undefined) return undefined;
  const parsed = duration(max).safeParse(value);
  if (parsed.success) return parsed.data;
  throw new UsageError(`--${flag} ${parsed.error.issues[0]?.message ?? 'is not a duration'} (got "${String(value)}")`);
}

/** The paging flags of every list command. */
export const PAGING_OPTIONS = {
  limit: { type: 'string', description: 'How many to show, 1 to 100 (default 20)' },
  cursor: { type: 'string', description: 'Show the page after this cursor (printed on stderr when more remain)' },
  all: { type: 'boolean', description: 'Fetch every page' },
} as const satisfies Record<string, OptionSpec>;

export function pagingFrom(values: OptionValues): { limit?: string; cursor?: string; all: boolean } {
  const limit = text(values.limit);
  if (limit !== undefined && !/^(100|[1-9]\d?)$/.test(limit))
    throw new UsageError(`--limit must be a number from 1 to 100 (got "${limit}")`);
  if (values.all && (limit !== undefined || values.cursor !== undefined))
    throw new UsageError('--all fetches every page: leave out --limit and --cursor');
  return { limit, cursor: text(values.cursor), all: Boolean(values.all) };
}

/** A password from stdin (kept out of `ps` and shell history) or --password. */
export async function passwordFrom(values: OptionValues, io: CliIo): Promise<string | undefined> {
  return values['password-stdin'] ? (await io.readStdin()).replace(/\r?\n$/, '') : text(values.password);
}

export const PASSWORD_OPTIONS = {
  'password-stdin': { type: 'boolean', description: 'Read the password from standard input (keeps it out of ps and shell history)' },
  password: { type: 'string', description: 'The password (visible to other users of this machine: prefer --password-stdin)' },
} as const satisfies Record<string, OptionSpec>;

export async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read JSON from ${path}: ${(error as Error).message}`);
  }
}

/** The database services, for commands that declare `needs: 'database'` (main opens them only with --local). */
export function database(context: CommandContext): CliContext {
  if (!context.local) throw new UsageError('this command works on the database directly: run it with --local on a machine that has it');
  return context.local;
}
