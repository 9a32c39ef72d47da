/**
 * `npm run size:unlock -w packages/app` (after `npm run build`): the JavaScript the unlock screen loads,
 * gzipped, from the build's manifest (dist/.vite/manifest.json): the entry (index.html), the app it loads at
 * once (src/index.ts), the unlock route's chunk, and every chunk these import statically. What loads after the screen
 * shows (the library, on demand) is listed apart, as is WebAssembly. Exits 1 over the budget (350 KB).
 *
 * | figure | counted |
 * |---|---|
 * | unlock screen | entry + app + unlock route closures (static imports only), `.js` files, gzip level 6 |
 * | behind it | their dynamic imports that are not app screens (`@hale/client`, `@hale/platform-web`, loaded at start) and their static imports, less what the screen already counted |
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export const UNLOCK_BUDGET_BYTES = 350 * 1024;

interface Chunk {
  readonly file: string;
  readonly imports?: readonly string[];
  readonly dynamicImports?: readonly string[];
  readonly isEntry?: boolean;
  readonly src?: string;
}
type Manifest = Readonly<Record<string, Chunk>>;

const closure = (manifest: Manifest, roots: readonly string[]): Set<string> => {
  const seen = new Set<string>();
  const walk = (key: string): void => {
    if (seen.has(key)) return;
    const chunk = manifest[key];
    if (chunk === undefined) throw new Error(`manifest has no ${key}`);
    seen.add(key);
    for (const next of chunk.imports ?? []) walk(next);
  };
  for (const root of roots) walk(root);
  return seen;
};

export interface UnlockSize {
  readonly screen: { readonly files: readonly string[]; readonly gzipBytes: number };
  readonly behind: { readonly files: readonly string[]; readonly gzipBytes: number };
}

export function measureUnlock(dist: string): UnlockSize {
  const manifest = JSON.parse(readFileSync(path.join(dist, '.vite/manifest.json'), 'utf8')) as Manifest;
  const gz = (key: string): number => {
    const file = manifest[key]?.file ?? '';
    return file.endsWith('.js') ? gzipSync(readFileSync(path.join(dist, file))).length : 0;
  };
  const unlockKey = Object.keys(manifest).find((k) => k.endsWith('screens/start/unlock-screen.tsx'));
  if (unlockKey === undefined) throw new Error('the build has no unlock route chunk');
  // The page's entry, the app it imports at once (main.tsx: `import('./index')`), the unlock route.
  const screen = closure(manifest, ['index.html', 'src/index.ts', unlockKey]);
  // What those load on demand that is not an app screen (`src/…`): the library and its platform.
  const library = [...screen].flatMap((k) =>
    (manifest[k]?.dynamicImports ?? []).filter((d) => !d.startsWith('src/')),
  );
  const behind = [...closure(manifest, library)].filter((k) => !screen.has(k));
  const sum = (keys: Iterable<string>): number => [...keys].reduce((n, k) => n + gz(k), 0);
  const files = (keys: Iterable<string>): string[] => [...keys].map((k) => manifest[k]?.file ?? k);
  return {
    screen: { files: files(screen), gzipBytes: sum(screen) },
    behind: { files: files(behind), gzipBytes: sum(behind) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dist = path.resolve(import.meta.dirname, '../dist');
  const size = measureUnlock(dist);
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  console.log(
    `unlock screen: ${kb(size.screen.gzipBytes)} gzipped JavaScript in ${size.screen.files.length} files (budget ${kb(UNLOCK_BUDGET_BYTES)})`,
  );
  console.log(
    `loaded behind it (the library, needed when Unlock is pressed): ${kb(size.behind.gzipBytes)} in ${size.behind.files.length} files`,
  );
  if (size.screen.gzipBytes > UNLOCK_BUDGET_BYTES) {
    console.error('over budget');
    process.exit(1);
  }
}
