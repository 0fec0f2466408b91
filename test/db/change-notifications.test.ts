import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenForChanges, notifyChange, type ChangeTopic } from '../../src/db/change-notifications.js';
import { silentLogger } from '../../src/log.js';
import { connectToTestDatabase } from '../support/database.js';

// Notifications arrive on their own connection, a moment after the commit.
const arrival = { timeout: 10_000, interval: 20 };

describe('change notifications', () => {
  let database: Awaited<ReturnType<typeof connectToTestDatabase>>;
  let databaseUrl: string;
  let client: pg.Client;

  beforeAll(async () => {
    database = await connectToTestDatabase();
    ({ databaseUrl, client } = database);
  });
  afterAll(() => database?.close());

  const execute = (sql: string, ...values: unknown[]) => client.query(sql, values);

  it('delivers a topic to every listener', async () => {
    const seen: ChangeTopic[][] = [[], []];
    const listeners = await Promise.all(seen.map((topics) => listenForChanges(databaseUrl, (topic) => topics.push(topic), silentLogger)));
    await notifyChange(execute, 'clients');
    // Each listener hears the topic exactly once, and nothing else.
    await expect.poll(() => seen, arrival).toEqual([['clients'], ['clients']]);
    await Promise.all(listeners.map((listener) => listener.close()));
  });

  it('delivers nothing for a rolled-back transaction, and on commit otherwise', async () => {
    const seen: ChangeTopic[] = [];
    const listener = await listenForChanges(databaseUrl, (topic) => seen.push(topic), silentLogger);
    await client.query('BEGIN');
    await notifyChange(execute, 'keys');
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await notifyChange(execute, 'resources');
    await client.query('COMMIT');
    await expect.poll(() => seen, arrival).toContain('resources');
    expect(seen).toEqual(['resources']);
    await listener.close();
  });

  it('reports every topic after reconnecting, since notifications may have been missed', async () => {
    const seen: ChangeTopic[] = [];
    const listener = await listenForChanges(databaseUrl, (topic) => seen.push(topic), silentLogger);
    await client.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'",
    );
    await expect.poll(() => seen.length, arrival).toBeGreaterThanOrEqual(3);
    expect(new Set(seen)).toEqual(new Set(['clients', 'resources', 'keys']));
    await notifyChange(execute, 'clients');
    await expect.poll(() => seen.slice(3), arrival).toEqual(['clients']);
    await listener.close();
  });
});
