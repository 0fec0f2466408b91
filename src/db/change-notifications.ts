import pg from 'pg';
import type { Logger } from '../log.js';

/** What changed: every instance drops its cached copy of that topic. */
export type ChangeTopic = 'clients' | 'resources' | 'keys';

const CHANNEL = 'gatehouse_changes';
const TOPICS: ReadonlySet<string> = new Set<ChangeTopic>(['clients', 'resources', 'keys']);

/** Anything that can run a query: a pg client, or Prisma's `$executeRawUnsafe`. */
export type Notifier = (sql: string, ...values: unknown[]) => Promise<unknown>;

/**
 * Tells every instance that `topic` changed. Inside a transaction, Postgres
 * delivers the notification only on commit, so listeners never see a change
 * that was rolled back.
 */
export async function notifyChange(execute: Notifier, topic: ChangeTopic): Promise<void> {
  await execute('SELECT pg_notify($1, $2)', CHANNEL, topic);
}

export interface ChangeListener {
  /** Stops listening and closes the connection. */
  close(): Promise<void>;
}

/**
 * Listens on a dedicated connection and calls `onChange` for each topic
 * notified. On connection loss it reconnects (every 2 s) and reports every
 * topic as changed, since notifications sent meanwhile were lost.
 */
export async function listenForChanges(databaseUrl: string, onChange: (topic: ChangeTopic) => void, log: Logger): Promise<ChangeListener> {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    // Bounded like every pool (a stalled server never answers LISTEN); closing is bounded by the shutdown deadline.
    const next = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5000, query_timeout: 5000 });
    next.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload && TOPICS.has(message.payload)) onChange(message.payload as ChangeTopic);
    });
    next.on('error', (error) => {
      log.warn('change listener lost its connection', { err: error });
      scheduleReconnect();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      await next.end().catch(() => {});
      throw error;
    }
    if (closed) {
      await next.end().catch(() => {});
      return;
    }
    client = next;
  };

  const scheduleReconnect = () => {
    if (closed || retry) return;
    const lost = client;
    client = undefined;
    lost?.end().catch(() => {});
    retry = setTimeout(async () => {
      retry = undefined;
      try {
        await connect();
        for (const topic of TOPICS) onChange(topic as ChangeTopic);
      } catch {
        scheduleReconnect();
      }
    }, 2000);
    retry.unref();
  };

  await connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end().catch(() => {});
    },
  };
}
