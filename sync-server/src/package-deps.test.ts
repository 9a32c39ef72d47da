// A self-hoster installs the server without development packages (`npm ci --omit=dev`); whatever the server
// loads at run time must then be among its own dependencies, or `npm start` and the bin fail on a module
// that only the developers' install had (tsx was one: both start paths load it).
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const manifest: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const fields = new Map<string, unknown>(
  typeof manifest === 'object' && manifest !== null ? Object.entries(manifest) : [],
);
const field = (name: string): unknown => fields.get(name);

const dependencies = (): Set<string> => {
  const deps = field('dependencies');
  return new Set(typeof deps === 'object' && deps !== null ? Object.keys(deps) : []);
};

/** Source files the running server loads: not tests, not the test harness (`./testing`, store conformance). */
const runtimeFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'testing' ? [] : runtimeFiles(path);
    const runtime =
      /\.(ts|js|mjs)$/.test(entry.name) &&
      !/\.test(-util|-entry)?\.(ts|mjs)$/.test(entry.name) &&
      !entry.name.endsWith('conformance.ts');
    return runtime ? [path] : [];
  });

const packageOf = (specifier: string): string =>
  specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? '');

/** Bare module specifiers in `import … from`, `import()` and `--import` (node flags in scripts). */
const importsOf = (text: string): string[] =>
  [...text.matchAll(/(?:\bfrom\s+['"]|\bimport\s*\(?\s*['"]|--import\s+)([^'".\s/][^'"\s)]*)/g)].map((m) =>
    packageOf(m[1] ?? ''),
  );

const isBuiltin = (name: string): boolean => name.startsWith('node:') || builtinModules.includes(name);

describe('the server package', () => {
  it('declares every package it loads at run time as a dependency (an install without dev packages runs)', () => {
    const files = [...runtimeFiles(join(root, 'src')), ...runtimeFiles(join(root, 'bin'))];
    expect(files.length).toBeGreaterThan(10);
    const declared = dependencies();
    const scripts = JSON.stringify(field('scripts') ?? {});
    const missing = new Set<string>();
    for (const text of [...files.map((f) => readFileSync(f, 'utf8')), scripts]) {
      for (const name of importsOf(text)) if (!isBuiltin(name) && !declared.has(name)) missing.add(name);
    }
    expect([...missing].sort()).toEqual([]);
    // The start paths load tsx; this is the one most easily left among the root's development packages.
    expect(declared.has('tsx')).toBe(true);
  });
});
