import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than cores: one on a 2-core machine, where the suite's files
    // then ran one at a time (most of their time is spent waiting on sockets, timers and workers).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    projects: [
      {
        extends: true,
        test: {
          name: 'all',
          include: ['packages/*/src/**/*.test.ts', 'sync-server/src/**/*.test.ts', 'test/**/*.test.ts'],
        },
      },
      {
        // The end-to-end scenarios again with every device's cryptography on a worker thread, as an app
        // runs it (pipelined pushes, prefetched pages, live frames decoded on arrival). Left out: offload
        // and restart choose in-thread and worker themselves; the example runs its own story; the browser
        // device runs in Chromium, in the page and on a Web Worker.
        extends: true,
        test: {
          name: 'e2e on a crypto worker',
          include: ['test/*.e2e.test.ts'],
          exclude: [
            'test/offload.e2e.test.ts',
            'test/restart.e2e.test.ts',
            'test/example.e2e.test.ts',
            'test/browser-device.e2e.test.ts',
            'test/browser-tabs.e2e.test.ts',
          ],
          env: { HALE_CRYPTO_WORKER: '1' },
        },
      },
    ],
  },
});
