import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded-postgres.js';
import { testPort } from './ports.js';

/**
 * A Postgres of the test's own (the suite's shared one must never be paused
 * or stopped), which it can freeze with SIGSTOP as a stalled server would be.
 */
export interface OwnPostgres {
  readonly connectionString: string;
  readonly dataDir: string;
  /** SIGSTOP the postmaster and every backend: connections stay open, nothing answers. */
  pause(): void;
  /** SIGCONT them all. Safe to call when not paused. */
  resume(): void;
  /** Resumes, stops Postgres and deletes its data. */
  destroy(): Promise<void>;
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-own-pg-'));
  const database: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir, port: await testPort() });
  const postmaster = Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const processes = () => {
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .map(Number)
      .filter(Boolean);
    return [postmaster, ...children];
  };
  const signal = (name: NodeJS.Signals) => {
    for (const pid of processes()) {
      try {
        process.kill(pid, name);
      } catch {
        // gone already
      }
    }
  };
  return {
    connectionString: database.connectionString,
    dataDir,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async destroy() {
      signal('SIGCONT');
      await database.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
