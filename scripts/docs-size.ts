/**
 * Keeps the documentation reference-sized. `npm run check:docs`; part of `npm run verify`. Fails (exit 1) when
 *
 * - the hand-written Markdown at the top of docs/ (docs/*.md; screenshots and the generated reference in
 *   docs/reference are not counted) totals more than 300,000 bytes, or
 * - a source file's module header is longer than 40 lines: the comment lines of a .ts or .tsx file under
 *   packages/<name>/src, packages/<name>/node, sync-server/src or desktop/src before its first statement
 *   (`//` lines or a block comment).
 *
 * Prints the size of each doc and the total, then each offender.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MAX_DOCS_BYTES = 300_000;
export const MAX_HEADER_LINES = 40;

/**
 * Lines of a file's module header: every comment line before its first statement (`//` lines and block
 * comments; a `// eslint-disable` or `// @vitest-environment` line above the header counts with it).
 */
export const headerLines = (text: string): number => {
  const lines = text.split(/\r?\n/);
  let count = 0;
  for (let i = lines[0]?.startsWith('#!') === true ? 1 : 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    if (line === '') continue;
    if (line.startsWith('//')) {
      count++;
    } else if (line.startsWith('/*')) {
      let end = i;
      while (end < lines.length - 1 && lines[end]?.includes('*/') !== true) end++;
      count += end - i + 1;
      i = end;
    } else {
      break;
    }
  }
  return count;
};

const sourceFiles = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        if (name === 'node_modules') return [];
        if (statSync(path).isDirectory()) return sourceFiles(path);
        return /\.tsx?$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
      })
    : [];

const sourceDirs = (): string[] => {
  const packages = join(ROOT, 'packages');
  const inPackages = readdirSync(packages).flatMap((name) => [
    join(packages, name, 'src'),
    join(packages, name, 'node'),
  ]);
  return [...inPackages, join(ROOT, 'sync-server/src'), join(ROOT, 'desktop/src')];
};

const main = (): number => {
  const docsDir = join(ROOT, 'docs');
  const docs = readdirSync(docsDir)
    .filter((name) => name.endsWith('.md') && statSync(join(docsDir, name)).isFile())
    .map((name) => ({ name, bytes: statSync(join(docsDir, name)).size }))
    .sort((a, b) => b.bytes - a.bytes);
  const total = docs.reduce((sum, doc) => sum + doc.bytes, 0);
  for (const doc of docs) console.log(`${String(doc.bytes).padStart(9)}  docs/${doc.name}`);
  const docsOk = total <= MAX_DOCS_BYTES;
  console.log(
    `${String(total).padStart(9)}  docs/*.md in all (at most ${MAX_DOCS_BYTES})${docsOk ? '' : ': too large'}`,
  );

  const files = sourceDirs().flatMap(sourceFiles);
  const long = files
    .map((file) => ({ file: relative(ROOT, file), lines: headerLines(readFileSync(file, 'utf8')) }))
    .filter((header) => header.lines > MAX_HEADER_LINES)
    .sort((a, b) => b.lines - a.lines);
  console.log(
    `${files.length} source files; ${long.length} with a module header over ${MAX_HEADER_LINES} lines`,
  );
  for (const header of long) console.log(`  ${header.file}: ${header.lines} lines`);
  return docsOk && long.length === 0 ? 0 : 1;
};

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main();
}
