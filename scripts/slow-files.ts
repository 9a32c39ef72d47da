// Writes test/slow-unit-files.json: the unit test files that took 2 s or more in a timed run, which
// `npm run test:quick` leaves to `npm test`. Run `npm run test:times` first (it writes test-times.json).
// Usage: npm run test:slow-files [-- path/to/test-times.json]
import { readFileSync, writeFileSync } from 'node:fs';

const SLOW_SECONDS = 2;
const source = process.argv[2] ?? 'test-times.json';
const { files } = JSON.parse(readFileSync(source, 'utf8')) as {
  files: { file: string; project: string; seconds: number }[];
};
const slow = [
  ...new Set(
    files.filter((f) => f.project.startsWith('unit') && f.seconds >= SLOW_SECONDS).map((f) => f.file),
  ),
].sort();
writeFileSync('test/slow-unit-files.json', `${JSON.stringify(slow, null, 2)}\n`);
console.log(`test/slow-unit-files.json: ${slow.length} files of ${SLOW_SECONDS} s or more`);
