// Electron's main entry (bundled to dist/main.cjs by scripts/build.mjs): binds the real Electron and
// Node's file system to desktop-main.ts.
import { open, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as electron from 'electron';
import { createDesktopMain, registerAppScheme } from './desktop-main';

const writeFileDurably = async (file: string, data: string): Promise<void> => {
  const temporary = `${file}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, file);
};

registerAppScheme(electron);
const appDir = process.env.HALE_APP_DIR ?? path.join(__dirname, 'app');
const main = createDesktopMain(electron, {
  preloadPath: path.join(__dirname, 'preload.cjs'),
  appDir,
  devServerUrl: process.env.HALE_APP_URL ?? null,
  fs: { readFile: (p) => readFile(p), writeFile: (p, d) => writeFile(p, d), writeFileDurably },
  platform: process.platform,
  log: (message, detail) => console.error(`[hale] ${message}`, detail ?? ''),
});
void main.start();
