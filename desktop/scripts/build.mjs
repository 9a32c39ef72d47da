/* global process, console */
// Bundles the main process and the preload for Electron (CommonJS, Electron itself external) into dist/,
// and copies the built web app (packages/app/dist, or HALE_APP_DIST) to dist/app when it exists.
import { build } from 'esbuild';
import { cp, rm, stat } from 'node:fs/promises';
import path from 'node:path';

const here = path.resolve(import.meta.dirname, '..');
const out = path.join(here, 'dist');
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node22',
  external: ['electron'],
  logLevel: 'warning',
};
await build({
  ...common,
  entryPoints: [path.join(here, 'src/main.ts')],
  outfile: path.join(out, 'main.cjs'),
});
// The preload runs sandboxed: one file, nothing required but `electron`.
await build({
  ...common,
  entryPoints: [path.join(here, 'src/preload.ts')],
  outfile: path.join(out, 'preload.cjs'),
});
const appDist = process.env.HALE_APP_DIST ?? path.resolve(here, '../packages/app/dist');
const hasApp = await stat(path.join(appDist, 'index.html')).then(
  () => true,
  () => false,
);
await rm(path.join(out, 'app'), { recursive: true, force: true });
if (hasApp) await cp(appDist, path.join(out, 'app'), { recursive: true });
console.log(
  `desktop: dist/main.cjs, dist/preload.cjs${hasApp ? `, dist/app (from ${appDist})` : ' (no built web app found: set HALE_APP_URL to a dev server, or build packages/app first)'}`,
);
