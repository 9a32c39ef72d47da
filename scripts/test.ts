// `npm test`: the whole suite. Vitest first, then the Playwright journeys once test/app/playwright.config.ts
// exists (skipped with one line until it does), then each runner's slowest files and totals
// (scripts/times.ts). The exit code is the first failing runner's, so a Vitest failure still lets the
// journeys run and be reported.
// | arguments (`npm test -- …`)          | runs                                                      |
// |--------------------------------------|-----------------------------------------------------------|
// | none, or options only (`--reporter…`) | Vitest with the options, then Playwright                  |
// | paths under test/app/ only            | Playwright with them                                      |
// | other paths                           | Vitest with them; Playwright only with test/app/ paths given |
// Options go to Vitest; a path is an argument without a leading `-` that is not the value of one of
// Vitest's options in VALUE_OPTIONS.
// HALE_TEST_TIMES=path writes every runner's figures there (`npm run test:times`: test-times.json).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { playwrightTimes, readTimesFile, report, timesFile, type RunnerTimes } from './times.ts';

const PLAYWRIGHT_CONFIG = 'test/app/playwright.config.ts';

/** Vitest options whose value may follow as the next argument. */
const VALUE_OPTIONS = new Set([
  '--project',
  '-t',
  '--testNamePattern',
  '--reporter',
  '--shard',
  '--maxWorkers',
  '--pool',
  '--config',
  '-c',
  '--outputFile',
  '--dir',
  '--root',
  '-r',
]);

const args = process.argv.slice(2);
const isAppPath = (a: string): boolean => /^(\.\/)?test\/app(\/|$)/.test(a);
const kinds = args.map((a, i) =>
  a.startsWith('-') || VALUE_OPTIONS.has(args[i - 1] ?? '') ? 'option' : isAppPath(a) ? 'app' : 'path',
);
const appPaths = args.filter((_, i) => kinds[i] === 'app');
const TIMES_REPORTER = './scripts/times-reporter.ts';
const vitestArgs = args.filter((_, i) => kinds[i] !== 'app');
// Reporters named on the command line replace the config's: the times reporter is kept among them.
if (
  vitestArgs.some((a) => a.startsWith('--reporter')) &&
  !vitestArgs.some((a) => a.includes('times-reporter'))
)
  vitestArgs.push(`--reporter=${TIMES_REPORTER}`);
const anyPath = kinds.some((k) => k !== 'option');
const runVitest = !anyPath || kinds.includes('path');
const runPlaywright = !anyPath || appPaths.length > 0;

const scratch = mkdtempSync(join(tmpdir(), 'hale-test-times-'));
const runners: RunnerTimes[] = [];
let status = 0;

/** Runs a package's command from node_modules/.bin (never fetched: `npx` would download a missing one). */
const run = (bin: string, commandArgs: readonly string[], env: NodeJS.ProcessEnv): number => {
  const command = join('node_modules', '.bin', bin);
  if (!existsSync(command)) {
    console.error(`${bin} is not installed: run npm ci`);
    return 1;
  }
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (result.error) throw result.error;
  return result.status ?? 1;
};

try {
  if (runVitest) {
    const out = join(scratch, 'vitest.json');
    const code = run('vitest', ['run', ...vitestArgs], { HALE_TEST_TIMES: out });
    if (existsSync(out)) runners.push(...readTimesFile(out));
    status ||= code;
  }
  if (runPlaywright) {
    if (!existsSync(PLAYWRIGHT_CONFIG)) {
      console.log(`\nPlaywright: skipped (no ${PLAYWRIGHT_CONFIG} yet)`);
    } else {
      // The journeys drive the built app the server serves: built now, from the sources under test.
      const built = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
      if (built.status !== 0) {
        console.error('Playwright: the app did not build (npm run build); journeys not run');
        status ||= built.status ?? 1;
      }
      const out = join(scratch, 'playwright.json');
      const code =
        built.status !== 0
          ? 1
          : run('playwright', ['test', '--config', PLAYWRIGHT_CONFIG, '--reporter=list,json', ...appPaths], {
              PLAYWRIGHT_JSON_OUTPUT_FILE: out,
              PLAYWRIGHT_JSON_OUTPUT_NAME: out,
            });
      if (existsSync(out)) runners.push(playwrightTimes(out));
      status ||= code;
    }
  }
  // Vitest's reporter printed its own; every runner's follows when another runner ran.
  if (runners.some((r) => r.runner !== 'Vitest')) console.log(report(runners));
  const timesOut = process.env['HALE_TEST_TIMES'];
  if (timesOut) writeFileSync(timesOut, JSON.stringify(timesFile(runners), null, 2));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(status);
