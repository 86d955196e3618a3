import type { Logger } from '../logger.js';

export interface Scheduler {
  stop(): Promise<void>;
}

/**
 * Runs `run` every `intervalMs` (never two runs at once in one process); 0 switches it off. Every instance runs
 * its own: the jobs are safe to run concurrently (they claim their work with SKIP LOCKED or advisory locks),
 * so instances need no coordination.
 */
export function every<T>(deps: {
  name: string;
  intervalMs: number;
  log: Logger;
  run: () => Promise<T>;
  /** Told of every run: its result, or undefined when it failed. */
  onRun?: (result: T | undefined, seconds: number) => void;
}): Scheduler {
  const { name, intervalMs, log, run, onRun } = deps;
  if (!intervalMs) return { stop: async () => undefined };
  let running: Promise<void> | undefined;
  const tick = () => {
    running ??= (async () => {
      const started = performance.now();
      try {
        // Awaited first: `onRun?.(await run())` would skip the run itself when no onRun is given.
        const result = await run();
        onRun?.(result, (performance.now() - started) / 1000);
      } catch (error) {
        onRun?.(undefined, (performance.now() - started) / 1000);
        log.error({ err: error }, `${name} run failed`);
      } finally {
        running = undefined;
      }
    })();
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
