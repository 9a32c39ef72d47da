// Vitest's order of test files with the slowest started first, also in a fresh clone: Vitest orders by the
// durations it cached in the last run, and with none (a fresh clone, CI) by file size, which started
// some of the slowest files last, each a minute's tail on a 2-core machine. Here a file's duration is the
// cached one when Vitest has it, else the committed test/file-seconds.json (`npm run test:slow-files`),
// else 0 (after the others, in Vitest's order). Files that failed last run still go first. Projects keep
// Vitest's order, one after another: a worker that runs files without isolation is shared only within its
// project, so interleaving projects started a fresh worker (and imported everything again) at every switch.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const listed = (): Map<string, number> => {
  try {
    const parsed = JSON.parse(
      readFileSync(new URL('../test/file-seconds.json', import.meta.url), 'utf8'),
    ) as Record<string, number>;
    return new Map(Object.entries(parsed));
  } catch {
    return new Map();
  }
};

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);

    const known = listed();
    const rank = new Map(
      base.map((spec, i) => {
        const key = `${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`;
        const cached = this.ctx.cache.getFileTestResults(key);
        const seconds = cached ? cached.duration / 1000 : (known.get(key) ?? 0);
        return [spec, { failed: cached?.failed === true, seconds, i }];
      }),
    );
    const projects = [...new Set(base.map((spec) => spec.project.name))];
    return [...base].sort((a, b) => {
      const byProject = projects.indexOf(a.project.name) - projects.indexOf(b.project.name);
      if (byProject !== 0) return byProject;
      const x = rank.get(a)!;
      const y = rank.get(b)!;
      if (x.failed !== y.failed) return x.failed ? -1 : 1;
      return y.seconds - x.seconds || x.i - y.i;
    });
  }
}
