import { readFile } from 'node:fs/promises';
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
}

export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  /** The name of the one positional argument the command takes, if any (e.g. an id). */
  readonly positional?: string;
  /** The positional may be given as this option instead (kept for scripts that use it). */
  readonly positionalOption?: string;
  run(context: CliContext, values: OptionValues, positionals: string[], io: CliIo): Promise<CommandResult>;
}

/** Changes made from the CLI are audited as the operator's. */
export const CLI_ACTOR = { actor: 'cli' } as const;

/** A command used wrongly: exit code 2 and the command's usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
export const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** `--limit N`, 1 to 1000 (default 100). */
export function limitFrom(values: OptionValues): number {
  const limit = Number(text(values.limit) ?? 100);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be 1 to 1000');
  return limit;
}

export async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read JSON from ${path}: ${(error as Error).message}`);
  }
}
