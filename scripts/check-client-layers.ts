/**
 * Checks the layers of packages/client/src (packages/client/layers.json): every import between its
 * folders runs down, and no files import each other in a circle. `npm run check:layers`; part of
 * `npm run verify`. Prints the counts, and each fault with its file and line.
 *
 * - Imports of every form count: `import`, `import type`, `export … from`, `import()`.
 * - Tests (`*.test.ts`, `*.test-util.ts`, `*.type-test.ts`) are left out: they may build on any layer.
 * - The entry points at the top (index.ts, advanced.ts, testing.ts) stand above every folder.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import layersFile from '../packages/client/layers.json' with { type: 'json' };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLIENT_SRC = join(ROOT, 'packages/client/src');
const TOP = '(entry points)';

export interface LayerReport {
  readonly folders: readonly string[];
  readonly folderEdges: number;
  /** Imports from a folder to one of its own layer or above: "file:line → folder". */
  readonly upward: readonly string[];
  /** Folders that import each other in a loop. */
  readonly folderCycles: readonly string[][];
  /** Files that import each other in a loop. */
  readonly fileCycles: readonly string[][];
  /** Folders the layers do not place. */
  readonly unplaced: readonly string[];
}

const isTest = (file: string): boolean => /\.(test|test-util|type-test)\.ts$/.test(file);

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !isTest(name) ? [path] : [];
  });

const resolveImport = (from: string, spec: string): string | null => {
  if (!spec.startsWith('.')) return null;
  const base = resolve(dirname(from), spec.replace(/\.(js|ts)$/, ''));
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return null;
};

/** Strongly connected components of more than one node (Tarjan). */
const circles = (graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] => {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
};

export const checkClientLayers = (
  src = CLIENT_SRC,
  layers: readonly (readonly string[])[] = layersFile.layers,
): LayerReport => {
  const layerOf = new Map(layers.flatMap((folders, i) => folders.map((f) => [f, i] as const)));
  const folderOf = (file: string): string => {
    const parts = relative(src, file).split('/');
    return parts.length > 1 ? parts[0]! : TOP;
  };
  const files = sourceFiles(src);
  const fileGraph = new Map<string, Set<string>>();
  const folderGraph = new Map<string, Set<string>>();
  const upward: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const targets = new Set<string>();
    for (const imported of ts.preProcessFile(text, true, true).importedFiles) {
      const target = resolveImport(file, imported.fileName);
      if (target === null || isTest(target)) continue;
      targets.add(target);
      const from = folderOf(file);
      const to = folderOf(target);
      if (from === to || from === TOP) continue;
      const edges = folderGraph.get(from) ?? new Set<string>();
      edges.add(to);
      folderGraph.set(from, edges);
      const a = layerOf.get(from);
      const b = to === TOP ? Infinity : layerOf.get(to);
      if (a !== undefined && b !== undefined && b >= a) {
        const line = text.slice(0, imported.pos).split('\n').length;
        upward.push(`${relative(src, file)}:${line} → ${to}`);
      }
    }
    fileGraph.set(file, targets);
  }
  const folders = [...new Set(files.map(folderOf))].filter((f) => f !== TOP).sort();
  return {
    folders,
    folderEdges: [...folderGraph.values()].reduce((n, s) => n + s.size, 0),
    upward,
    folderCycles: circles(folderGraph),
    fileCycles: circles(fileGraph).map((c) => c.map((f) => relative(src, f))),
    unplaced: folders.filter((f) => !layerOf.has(f)),
  };
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = checkClientLayers();
  const faults = r.upward.length + r.folderCycles.length + r.fileCycles.length + r.unplaced.length;
  console.log(
    `packages/client/src: ${r.folders.length} folders in ${layersFile.layers.length} layers, ` +
      `${r.folderEdges} folder-to-folder edges, ${r.upward.length} upward imports, ` +
      `${r.folderCycles.length} folder cycles, ${r.fileCycles.length} file circles`,
  );
  for (const u of r.unplaced) console.log(`  not in packages/client/layers.json: ${u}`);
  for (const u of r.upward) console.log(`  upward: ${u}`);
  for (const c of r.folderCycles) console.log(`  folder cycle: ${c.join(', ')}`);
  for (const c of r.fileCycles) console.log(`  file circle: ${c.join(', ')}`);
  process.exit(faults === 0 ? 0 : 1);
}
