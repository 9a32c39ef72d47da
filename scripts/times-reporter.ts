// A Vitest reporter that ends every run with its 15 slowest test files and the run's totals, so a
// regression in suite time is seen the day it lands (`npm test`, `npm run test:times`); scripts/times.ts
// has the columns. HALE_TEST_TIMES=path also writes every file's figures there as JSON (`timesFile`; under
// `npm test`, scripts/test.ts merges them with the other runners').
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { report, timesFile, type FileTime, type RunnerTimes } from './times.ts';

const fileTime = (m: TestModule): FileTime => {
  const d = m.diagnostic();
  const { cpuSeconds, cpuWaitSeconds } = m.meta();
  return {
    file: relative(process.cwd(), m.moduleId),
    project: m.project.name,
    seconds:
      (d.prepareDuration + d.environmentSetupDuration + d.collectDuration + d.setupDuration + d.duration) /
      1000,
    tests: [...m.children.allTests()].length,
    ...(cpuSeconds === undefined ? {} : { cpuSeconds }),
    ...(cpuWaitSeconds === undefined ? {} : { cpuWaitSeconds }),
  };
};

export class TimesReporter implements Reporter {
  private started = performance.now();

  onTestRunStart(): void {
    this.started = performance.now();
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const times: RunnerTimes = {
      runner: 'Vitest',
      wallSeconds: (performance.now() - this.started) / 1000,
      files: modules.map(fileTime),
    };
    console.log(report([times]));
    const out = process.env['HALE_TEST_TIMES'];
    if (out) writeFileSync(out, JSON.stringify(timesFile([times]), null, 2));
  }
}
export default TimesReporter;
