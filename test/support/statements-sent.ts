import pg from 'pg';
import { vi } from 'vitest';

/** A statement pg was asked to send: its text, its prepared-statement name, and the row mode asked for. */
export interface SentStatement {
  readonly text: string;
  readonly name: string | undefined;
  /** Prisma's pg adapter asks for rows as arrays (`'array'`); plainQuery and pg's own set-up ask for none. */
  readonly rowMode: string | undefined;
}

/** The statements any pg client in this process is asked to send while `action` runs; pg's query method is only observed. */
export async function statementsSentBy(action: () => Promise<unknown>): Promise<SentStatement[]> {
  const sent: SentStatement[] = [];
  const query = pg.Client.prototype.query;
  const spy = vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
    const config = args[0] as { text?: string; name?: string; rowMode?: string } | string;
    sent.push(
      typeof config === 'string'
        ? { text: config, name: undefined, rowMode: undefined }
        : { text: config.text ?? '', name: config.name || undefined, rowMode: config.rowMode },
    );
    return (query as (...all: unknown[]) => unknown).apply(this, args);
  } as typeof pg.Client.prototype.query);
  try {
    await action();
  } finally {
    spy.mockRestore();
  }
  return sent;
}

/** A new connection's own set-up (`SET TIME ZONE`, src/db/prisma.ts): sent in whatever request opened the connection, not its work. */
export const isConnectionSetUp = (text: string) => /^\s*SET\b/i.test(text);

/** Only the statements that read or write data (a new connection's own set-up, `SET ...`, left out). */
export const dataStatements = (sent: readonly SentStatement[]) =>
  sent.filter((statement) => /^\s*(UPDATE|SELECT|INSERT|DELETE|WITH)\b/i.test(statement.text));
