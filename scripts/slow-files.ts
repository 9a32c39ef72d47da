// Writes, from a timed run (`npm run test:times` writes test-times.json):
// | file                     | what it holds                                                          |
// |--------------------------|------------------------------------------------------------------------|
// | test/slow-unit-files.json | the unit test files of 2 s or more, which `npm run test:quick` leaves  |
// |                          | to `npm test`                                                           |
// | test/file-seconds.json   | every file's seconds (1 s or more) by project, which the sequencer      |
// |                          | (scripts/slow-first-sequencer.ts) starts first in a clone with no cache |
// A file's seconds are its time less what it waited for a CPU other processes held (cpuWaitSeconds),
// so a run on a loaded machine gives about an idle machine's figures.
// Usage: npm run test:slow-files [-- path/to/test-times.json …] (several runs, oldest first: a file's
// figure is its latest run's)
import { readFileSync, writeFileSync } from 'node:fs';
import type { FileTime } from './times.ts';

const SLOW_SECONDS = 2;
const LISTED_SECONDS = 1;
const sources = process.argv.length > 2 ? process.argv.slice(2) : ['test-times.json'];
const files = sources.flatMap(
  (source) => (JSON.parse(readFileSync(source, 'utf8')) as { files: FileTime[] }).files,
);
const idle = (f: FileTime): number => f.seconds - (f.cpuWaitSeconds ?? 0);

const latest = new Map(files.map((f) => [`${f.project}:${f.file}`, f]));
const slow = [
  ...new Set(
    [...latest.values()]
      .filter((f) => f.project.startsWith('unit') && idle(f) >= SLOW_SECONDS)
      .map((f) => f.file),
  ),
].sort();
writeFileSync('test/slow-unit-files.json', `${JSON.stringify(slow, null, 2)}\n`);
console.log(`test/slow-unit-files.json: ${slow.length} files of ${SLOW_SECONDS} s or more`);

const seconds = new Map<string, number>();
for (const f of files) seconds.set(`${f.project}:${f.file}`, idle(f));
const listed = Object.fromEntries(
  [...seconds]
    .filter(([, s]) => s >= LISTED_SECONDS)
    .sort((a, b) => b[1] - a[1])
    .map(([key, s]) => [key, Math.round(s * 10) / 10]),
);
writeFileSync('test/file-seconds.json', `${JSON.stringify(listed, null, 2)}\n`);
console.log(`test/file-seconds.json: ${Object.keys(listed).length} files of ${LISTED_SECONDS} s or more`);
