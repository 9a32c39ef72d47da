// The whole suite (`npm test`) in four projects. Test files run without isolation (one module graph per
// worker, files one after another in it), which halves the suite's wall time: importing rxdb, fastify
// and the packages anew for each of ~550 files cost more than most files' tests. Files that replace
// modules (vi.mock) or process-wide state run isolated (ISOLATED). Temporary directories (every test server's SQLite store) are made on
// tmpfs where the machine has one: the stores' fsyncs then cost nothing, and no test depends on them
// reaching a disk (a crash test kills a process, never the machine).
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { TimesReporter } from './scripts/times-reporter.ts';
import { SlowFirstSequencer } from './scripts/slow-first-sequencer.ts';

/**
 * Files that change what a module graph holds for the files after them: each in its own graph. They
 * replace modules (vi.mock), add RxDB's dev-mode plugin for the process, or need ulidx's monotonic
 * generator fresh (ids.test.ts).
 */
const ISOLATED = [
  'packages/model/src/ids.test.ts',
  'packages/client/src/store/device-db.test.ts',
  'packages/client/src/store/meta-store.test.ts',
  // Adds RxDB's dev-mode plugin (process-wide): other unit files in its fork then fail DVM1.
  'packages/client/src/hale/drafts.test.ts',
  'packages/crypto/src/forget-cached-keys.test.ts',
  'packages/crypto/src/node-sealer.test.ts',
  'packages/crypto/src/node-ed25519.test.ts',
  'packages/client/src/session/session-open-lock.test.ts',
  'packages/client/src/sync/device-directory-cert-identity.test.ts',
  'packages/client/src/offload/crypto-worker-messageerror.test.ts',
  'packages/client/src/offload/crypto-worker-error-text.test.ts',
  'sync-server/src/invite-command-revoke.test.ts',
  'sync-server/src/invite-during-restore.test.ts',
  'sync-server/src/store/invite-store.test.ts',
  'sync-server/src/client-address-once.test.ts',
  'sync-server/src/log-destination-full.test.ts',
  // Mocks the app's boot/platform (the client library it reports loaded).
  'packages/app/src/i18n/error-words.test.ts',
];

/**
 * End-to-end files that leave what they crashed open on purpose (a killed device's RxDB databases, which
 * would count toward RxDB's open-collection limit in the files after them): each in its own graph.
 */
const E2E_ISOLATED = [
  'test/device/device-crash.e2e.test.ts',
  'test/audit/audit-crash-once.e2e.test.ts',
  'test/device/restart-lost-push-answer.e2e.test.ts',
];

/**
 * The end-to-end scenarios whose behaviour differs with the devices' cryptography on a worker thread
 * (pipelined pushes, prefetched initial-sync pages, live frames decoded on arrival, quarantine and
 * key-wait ordering): run a second time so. That the worker answers every job as this thread does is
 * checked at unit level, on a real worker thread: record-codec-offload.test.ts (wire seals and opens:
 * the same documents and refusals), at-rest-offload.test.ts (at rest: the same envelopes and refusals)
 * and clone-parity.test.ts (values structured clone changes); the other scenarios test nothing new there.
 */
const ON_CRYPTO_WORKER = [
  'test/sync/sync.e2e.test.ts',
  'test/sync/crypto-worker-project.e2e.test.ts',
  'test/sync/engine-pending-perf.e2e.test.ts',
  'test/sync/stream-paging.e2e.test.ts',
  'test/sync/pull-pass.e2e.test.ts',
  'test/sync/reconnect-full-page.e2e.test.ts',
  'test/sync/drained-live.e2e.test.ts',
  'test/sync/initial-sync-progress.e2e.test.ts',
  'test/conflicts/conflict-settle.e2e.test.ts',
  'test/quarantine/quarantine-retry.e2e.test.ts',
  'test/quarantine/quarantine-upgrade.e2e.test.ts',
  'test/keys/key-wait-not-blocking.e2e.test.ts',
  'test/consent/grant-listing.e2e.test.ts',
  'test/keys/keyring-device-lists.e2e.test.ts',
  'test/keys/wrapping-key.e2e.test.ts',
];

/**
 * `npm run test:quick` (HALE_TEST_TIER=quick): the unit tests of every package but the files that took
 * 2 s or more in a timed run (test/slow-unit-files.json, `npm run test:slow-files` renews it), and these
 * end-to-end smoke scenarios. `npm test` runs everything.
 */
const SMOKE = [
  'test/sync/sync.e2e.test.ts',
  'test/records/records-api.e2e.test.ts',
  'test/consent/consent.e2e.test.ts',
  'test/audit/audit-entry-record.e2e.test.ts',
  'test/files/files-purge-restart.e2e.test.ts',
  'test/records-io/signed-export.e2e.test.ts',
];
const quick = process.env['HALE_TEST_TIER'] === 'quick';
const SLOW_UNIT: string[] = quick
  ? (JSON.parse(readFileSync(new URL('./test/slow-unit-files.json', import.meta.url), 'utf8')) as string[])
  : [];

const tmpfs = existsSync('/dev/shm') ? { TMPDIR: '/dev/shm' } : {};

export default defineConfig({
  test: {
    // Two workers per core share the CPU: a test's CPU-bound stretch may take twice its time alone.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', new TimesReporter()],
    // Each file's worker CPU, for the times report.
    setupFiles: ['./scripts/file-cpu.setup.ts'],
    // The slowest files first, in a fresh clone too (test/file-seconds.json): none left to end the run alone.
    sequence: { sequencer: SlowFirstSequencer },
    isolate: false,
    env: tmpfs,
    // Two workers per core (at most 8): the files spend most of their time waiting (sockets, timers,
    // child processes, worker threads), a 2-core machine's cores were busy 0.7 of the time with one worker
    // per core (407 s of CPU in a 590 s run), and a waiting file leaves its core to another file's work.
    maxWorkers: Math.min(8, Math.max(2, 2 * availableParallelism())),
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'packages/*/src/**/*.test.ts',
            'sync-server/src/**/*.test.ts',
            'desktop/src/**/*.test.ts',
          ],
          exclude: [...ISOLATED, ...SLOW_UNIT],
        },
      },
      {
        extends: true,
        test: { name: 'unit (isolated)', include: ISOLATED, exclude: SLOW_UNIT, isolate: true },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: quick ? SMOKE : ['test/**/*.test.ts'],
          exclude: quick ? [] : E2E_ISOLATED,
        },
      },
      ...(quick
        ? []
        : [
            {
              extends: true as const,
              test: { name: 'e2e (isolated)', include: E2E_ISOLATED, isolate: true },
            },
            {
              extends: true as const,
              test: {
                name: 'e2e on a crypto worker',
                include: ON_CRYPTO_WORKER,
                env: { ...tmpfs, HALE_CRYPTO_WORKER: '1' },
              },
            },
          ]),
    ],
  },
});
