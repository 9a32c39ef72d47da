/* global process, console */
// `npm run desktop`: builds main and preload, then starts Electron on them — where Electron's binary is
// installed. Says what is missing otherwise (this machine's network refuses the binary's download).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const here = path.resolve(import.meta.dirname, '..');
const require = createRequire(import.meta.url);

/**
 * The installed binary's path, found the way electron's own index.js finds it, but without its fallback,
 * which downloads the binary on the spot (a download from outside the npm registry, refused here).
 */
const installedElectron = () => {
  const pkg = path.dirname(require.resolve('electron/package.json'));
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const pathFile = path.join(pkg, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8') : null;
  if (override !== undefined) return path.join(override, relative ?? 'electron');
  if (relative === null) return null;
  const full = path.join(pkg, 'dist', relative);
  return existsSync(full) ? full : null;
};

const electronPath = installedElectron();
if (electronPath === null) {
  console.error(
    [
      'Hale desktop: the Electron binary is not installed on this machine, so the app cannot start here.',
      'Install it where the network allows: `node node_modules/electron/install.js` from the repository root',
      '(npm skips it: the electron package is not in allowScripts, or ELECTRON_SKIP_BINARY_DOWNLOAD is set).',
      'What runs without it: `npx vitest run desktop` tests the main process and the preload with Electron',
      'stubbed, and the web app itself runs in any browser (`npm start` serves it).',
    ].join('\n'),
  );
  process.exit(1);
}

await import('./build.mjs');
if (process.env.HALE_APP_URL === undefined && !existsSync(path.join(here, 'dist/app/index.html'))) {
  console.error(
    'Hale desktop: no web app to show: build packages/app first, or set HALE_APP_URL=http://localhost:5173 (npm run dev).',
  );
  process.exit(1);
}
const child = spawn(electronPath, [here], { stdio: 'inherit', env: process.env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
