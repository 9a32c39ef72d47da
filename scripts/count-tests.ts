// Counts test cases and assertions per area, statically, from the test files' text.
// | column     | what it counts                                                         |
// |------------|------------------------------------------------------------------------|
// | files      | *.test.ts / *.spec.ts files                                             |
// | cases      | `it(`, `test(`, `it.each(`…, `it.skip(`… calls (one per call site)       |
// | assertions | `expect(`, `expect.soft(`, `expect.poll(`, `assert(`/`assert.` call sites|
// Usage: npm run test:count [-- --json]   (areas: a package, sync-server, test/<folder>)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const SKIP = new Set(['node_modules', 'dist', '.git', 'coverage', 'test-results']);

const walk = (dir: string, out: string[] = []): string[] => {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(test|spec)\.tsx?$/.test(name)) out.push(p);
  }
  return out;
};

const areaOf = (file: string): string => {
  const parts = relative(root, file).split(sep);
  if (parts[0] === 'packages' || parts[0] === 'desktop') return parts.slice(0, 2).join('/');
  if (parts[0] === 'test') return parts.length > 2 ? `test/${parts[1]}` : 'test';
  return parts[0];
};

const CASE = /(?<![\w.])(?:it|test)(?:\.(?:each\([^)]*\)|skip|only|concurrent|sequential|fails|todo))*\s*\(/g;
const ASSERT = /(?<![\w.])(?:expect(?:\.soft|\.poll)?\s*\(|assert(?:\.\w+)?\s*\()/g;

interface Count {
  files: number;
  cases: number;
  assertions: number;
}

const areas = new Map<string, Count>();
for (const dir of ['packages', 'sync-server', 'test', 'desktop']) {
  let files: string[] = [];
  try {
    files = walk(join(root, dir));
  } catch {
    continue;
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const a = areas.get(areaOf(file)) ?? { files: 0, cases: 0, assertions: 0 };
    a.files += 1;
    a.cases += (text.match(CASE) ?? []).length;
    a.assertions += (text.match(ASSERT) ?? []).length;
    areas.set(areaOf(file), a);
  }
}
const rows = [...areas].sort(([x], [y]) => x.localeCompare(y));
const total = rows.reduce<Count>(
  (t, [, a]) => ({
    files: t.files + a.files,
    cases: t.cases + a.cases,
    assertions: t.assertions + a.assertions,
  }),
  { files: 0, cases: 0, assertions: 0 },
);
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ areas: Object.fromEntries(rows), total }, null, 2));
} else {
  console.log('| area | files | cases | assertions |\n|---|---:|---:|---:|');
  for (const [name, a] of rows) console.log(`| ${name} | ${a.files} | ${a.cases} | ${a.assertions} |`);
  console.log(`| **total** | ${total.files} | ${total.cases} | ${total.assertions} |`);
}
