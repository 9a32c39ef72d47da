// Vitest setup file (every project): the CPU time of each test file's worker process (every thread of
// it: the test's own, its crypto workers), from the file's import to its last hook, kept in the file's
// meta for scripts/times-reporter.ts. Child processes a file starts (servers, Chromium) are not counted.
// On Linux also the time the worker's main thread waited for a CPU (other processes had them: a shared
// or loaded machine), from /proc/self/schedstat: a file's seconds less that wait is about what it takes
// on an idle machine.
import { readFileSync } from 'node:fs';
import { afterAll } from 'vitest';

declare module '@vitest/runner' {
  interface TaskMeta {
    /** CPU seconds (user + system) of the worker while it ran this file. */
    cpuSeconds?: number;
    /** Seconds the worker's main thread was ready to run but waited for a CPU (Linux only). */
    cpuWaitSeconds?: number;
  }
}

/** Nanoseconds the main thread waited on a run queue, or undefined where /proc does not say. */
const runQueueWait = (): number | undefined => {
  try {
    const waited = Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]);
    return Number.isFinite(waited) ? waited : undefined;
  } catch {
    return undefined;
  }
};

const started = process.cpuUsage();
const waitStarted = runQueueWait();

// Vitest reads the first parameter's destructuring pattern (fixtures): an empty one asks for none.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, file) => {
  const used = process.cpuUsage(started);
  file.meta.cpuSeconds = (used.user + used.system) / 1e6;
  const waited = runQueueWait();
  if (waited !== undefined && waitStarted !== undefined)
    file.meta.cpuWaitSeconds = (waited - waitStarted) / 1e9;
});
