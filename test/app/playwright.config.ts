/**
 * The app's journeys (`npm run test:app`): Playwright Test driving Debian's Chromium against a real sync
 * server on a loopback port that serves the built app (packages/app/dist, `npm run build` first), with a
 * fresh SQLite store and real IndexedDB in each browser context.
 * - Two workers (HALE_APP_WORKERS to change): spec files run two at a time against the one server, so each
 *   spec names its own people (the directory is shared) and waits on what it sees, never on time.
 * - Tests within a file run in order (fullyParallel false): a file's journeys may build on each other.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineConfig } from '@playwright/test';

const PORT = Number(process.env['HALE_APP_TEST_PORT'] ?? 8797);
const root = path.resolve(import.meta.dirname, '../..');
const dataDir = mkdtempSync(path.join(tmpdir(), 'hale-app-test-'));

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts$/,
  outputDir: path.join(tmpdir(), 'hale-app-test-results'),
  // Each screen is checked by every axe rule at two sizes (and with a notice showing): 30–60 s a screen
  // on a loaded machine.
  timeout: 300_000,
  expect: { timeout: 20_000 },
  workers: Number(process.env['HALE_APP_WORKERS'] ?? 2),
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env['HALE_CHROMIUM'] ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
    viewport: { width: 1440, height: 900 },
    locale: 'en-US',
    timezoneId: 'Europe/Amsterdam',
    actionTimeout: 20_000,
  },
  webServer: {
    command: [
      'node --import tsx src/main.ts',
      `--port ${PORT}`,
      `--data-dir ${dataDir}`,
      // HALE_APP_DIR: a copy of the build, for a run that others' rebuilds must not change under it.
      `--app-dir ${process.env['HALE_APP_DIR'] ?? path.join(root, 'packages/app/dist')}`,
      // Every browser context of the run comes from 127.0.0.1: one address's budget would throttle them.
      '--rate-per-address 2000',
      '--log-level warn',
    ].join(' '),
    cwd: path.join(root, 'sync-server'),
    url: `http://127.0.0.1:${PORT}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
