import type { Logger } from '../log.js';

export interface PeriodicJob {
  /** Stops the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalSeconds`, never two runs at once; a failure is
 * logged and the schedule goes on. The timer does not keep the process alive.
 */
export function runPeriodically(name: string, intervalSeconds: number, task: () => Promise<void>, log: Logger): PeriodicJob {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch((error: unknown) => log.warn(`${name} failed`, { err: error }))
      .finally(() => {
        running = undefined;
      });
  }, intervalSeconds * 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
