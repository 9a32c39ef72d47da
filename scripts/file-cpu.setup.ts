// Vitest setup file (every project): the CPU time of each test file's worker process (every thread of
// it: the test's own, its crypto workers), from the file's import to its last hook, kept in the file's
// meta for scripts/times-reporter.ts. Child processes a file starts (servers, Chromium) are not counted.
import { afterAll } from 'vitest';

declare module '@vitest/runner' {
  interface TaskMeta {
    /** CPU seconds (user + system) of the worker while it ran this file. */
    cpuSeconds?: number;
  }
}

const started = process.cpuUsage();

// Vitest reads the first parameter's destructuring pattern (fixtures): an empty one asks for none.
// eslint-disable-next-line no-empty-pattern
afterAll(({}, file) => {
  const used = process.cpuUsage(started);
  file.meta.cpuSeconds = (used.user + used.system) / 1e6;
});
