// Test-time figures of every runner `npm test` uses (Vitest, and Playwright once test/app has its config),
// in one shape, and the report printed at the end of a run: each runner's 15 slowest files and the totals.
// | field       | what it is                                                                          |
// |-------------|--------------------------------------------------------------------------------------|
// | seconds     | the file's time in its worker: import, collection, hooks and tests (Vitest); the sum  |
// |             | of its tests' attempts (Playwright)                                                   |
// | cpuSeconds  | Vitest only: CPU of the worker process while it ran the file (scripts/file-cpu.setup) |
// | cpuWaitSeconds | Vitest on Linux: how long its worker waited for a CPU that other processes held;     |
// |             | `seconds` less this is about the file's time on an idle machine                       |
// | project     | the runner's project that ran it (a file may run in two)                              |
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

export const SHOWN = 15;

export interface FileTime {
  readonly file: string;
  readonly project: string;
  readonly seconds: number;
  readonly tests: number;
  readonly cpuSeconds?: number;
  readonly cpuWaitSeconds?: number;
}

export interface RunnerTimes {
  readonly runner: string;
  readonly wallSeconds: number;
  readonly files: readonly FileTime[];
}

/** One runner's lines: its slowest files and its totals. */
export const runnerReport = (times: RunnerTimes): string[] => {
  const files = [...times.files].sort((a, b) => b.seconds - a.seconds);
  const busy = files.reduce((sum, t) => sum + t.seconds, 0);
  const cpu = files.reduce((sum, t) => sum + (t.cpuSeconds ?? 0), 0);
  const withCpu = files.some((t) => t.cpuSeconds !== undefined);
  const waited = files.reduce((sum, t) => sum + (t.cpuWaitSeconds ?? 0), 0);
  const shown = files.slice(0, SHOWN);
  const width = Math.max(...shown.map((t) => t.file.length), 4);
  return [
    '',
    `${times.runner}: slowest ${shown.length} of ${files.length} test files (seconds in their worker${withCpu ? '; its CPU' : ''}):`,
    ...shown.map(
      (t) =>
        `  ${t.seconds.toFixed(1).padStart(6)}${withCpu ? `  ${(t.cpuSeconds ?? 0).toFixed(1).padStart(5)} cpu` : ''}  ${t.file.padEnd(width)}  ${t.project} (${t.tests} tests)`,
    ),
    `${times.runner} total: ${times.wallSeconds.toFixed(0)} s wall, ${busy.toFixed(0)} s in test files over ${files.length} files${withCpu ? `, ${cpu.toFixed(0)} s of their workers' CPU` : ''}${waited >= 1 ? `; ${waited.toFixed(0)} s waiting for a CPU other processes held` : ''}`,
  ];
};

/** Every runner's report, and the whole run's wall time when there was more than one runner. */
export const report = (runners: readonly RunnerTimes[]): string => {
  const lines = runners.flatMap(runnerReport);
  if (runners.length > 1) {
    const wall = runners.reduce((sum, r) => sum + r.wallSeconds, 0);
    lines.push(`All runners: ${wall.toFixed(0)} s wall`);
  }
  return lines.join('\n');
};

/**
 * What HALE_TEST_TIMES files hold: every runner's figures, and all files in one list (what
 * scripts/slow-files.ts reads).
 */
export const timesFile = (
  runners: readonly RunnerTimes[],
): { wallSeconds: number; files: FileTime[]; runners: readonly RunnerTimes[] } => ({
  wallSeconds: runners.reduce((sum, r) => sum + r.wallSeconds, 0),
  files: runners.flatMap((r) => r.files),
  runners,
});

/** The runners of a HALE_TEST_TIMES file. */
export const readTimesFile = (path: string): RunnerTimes[] =>
  (JSON.parse(readFileSync(path, 'utf8')) as { runners: RunnerTimes[] }).runners;

interface PlaywrightResult {
  readonly duration?: number;
}
interface PlaywrightTest {
  readonly projectName?: string;
  readonly results?: readonly PlaywrightResult[];
}
interface PlaywrightSpec {
  readonly file?: string;
  readonly tests?: readonly PlaywrightTest[];
}
interface PlaywrightSuite {
  readonly file?: string;
  readonly specs?: readonly PlaywrightSpec[];
  readonly suites?: readonly PlaywrightSuite[];
}
interface PlaywrightReport {
  readonly config?: { readonly rootDir?: string };
  readonly suites?: readonly PlaywrightSuite[];
  readonly stats?: { readonly duration?: number };
}

/**
 * Per-file times from Playwright's JSON report (`--reporter=json`): a file's time is the sum of its tests'
 * attempts, per project. Paths are made relative to `cwd` (the report names them from its config's rootDir).
 */
export const playwrightTimes = (path: string, cwd = process.cwd()): RunnerTimes => {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as PlaywrightReport;
  const rootDir = parsed.config?.rootDir ?? cwd;
  const byFile = new Map<string, { file: string; project: string; ms: number; tests: number }>();
  const visit = (suite: PlaywrightSuite): void => {
    for (const spec of suite.specs ?? []) {
      const file = relative(cwd, `${rootDir}/${spec.file ?? suite.file ?? 'unknown'}`);
      for (const test of spec.tests ?? []) {
        const project = `playwright${test.projectName ? `: ${test.projectName}` : ''}`;
        const key = `${project}\0${file}`;
        const entry = byFile.get(key) ?? { file, project, ms: 0, tests: 0 };
        entry.ms += (test.results ?? []).reduce((sum, r) => sum + (r.duration ?? 0), 0);
        entry.tests += 1;
        byFile.set(key, entry);
      }
    }
    for (const inner of suite.suites ?? []) visit(inner);
  };
  for (const suite of parsed.suites ?? []) visit(suite);
  return {
    runner: 'Playwright',
    wallSeconds: (parsed.stats?.duration ?? 0) / 1000,
    files: [...byFile.values()].map((e) => ({
      file: e.file,
      project: e.project,
      seconds: e.ms / 1000,
      tests: e.tests,
    })),
  };
};
