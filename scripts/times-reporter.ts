// A Vitest reporter that ends every run with its 15 slowest test files and the run's totals, so a
// regression in suite time is seen the day it lands (`npm test`, `npm run test:times`).
// | column  | what it is                                                             |
// |---------|-------------------------------------------------------------------------|
// | file s  | the file's import, collection, hooks and tests, in its worker           |
// | project | the project of vitest.config.ts that ran it (a file may run in two)     |
// HALE_TEST_TIMES=path also writes every file's figures there as JSON (docs/benchmarks.md's tables).
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

const SHOWN = 15;

interface FileTime {
  readonly file: string;
  readonly project: string;
  readonly seconds: number;
  readonly tests: number;
}

const fileTime = (m: TestModule): FileTime => {
  const d = m.diagnostic();
  return {
    file: relative(process.cwd(), m.moduleId),
    project: m.project.name,
    seconds:
      (d.prepareDuration + d.environmentSetupDuration + d.collectDuration + d.setupDuration + d.duration) /
      1000,
    tests: [...m.children.allTests()].length,
  };
};

export class TimesReporter implements Reporter {
  private started = performance.now();

  onTestRunStart(): void {
    this.started = performance.now();
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const wall = (performance.now() - this.started) / 1000;
    const times = modules.map(fileTime).sort((a, b) => b.seconds - a.seconds);
    const busy = times.reduce((sum, t) => sum + t.seconds, 0);
    const width = Math.max(...times.slice(0, SHOWN).map((t) => t.file.length), 4);
    const lines = [
      '',
      `Slowest ${Math.min(SHOWN, times.length)} of ${times.length} test files (seconds in their worker):`,
      ...times
        .slice(0, SHOWN)
        .map(
          (t) =>
            `  ${t.seconds.toFixed(1).padStart(6)}  ${t.file.padEnd(width)}  ${t.project} (${t.tests} tests)`,
        ),
      `Total: ${wall.toFixed(0)} s wall, ${busy.toFixed(0)} s in test files over ${times.length} files`,
    ];
    console.log(lines.join('\n'));
    const out = process.env['HALE_TEST_TIMES'];
    if (out) writeFileSync(out, JSON.stringify({ wallSeconds: wall, files: times }, null, 2));
  }
}
export default TimesReporter;
