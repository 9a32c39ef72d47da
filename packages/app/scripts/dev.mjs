// `npm run dev`: a sync server on 127.0.0.1:8787 (data in packages/app/.dev-data) and Vite with the API
// proxied to it (vite.config.ts). Ctrl-C stops both. HALE_DEV_API points Vite at another server instead.
import { spawn } from 'node:child_process';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const app = path.join(here, '..');
const root = path.join(app, '..', '..');
const children = [];
if (process.env.HALE_DEV_API === undefined) {
  children.push(
    spawn(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', '--data-dir', path.join(app, '.dev-data'), '--app-dir', 'none'],
      { cwd: path.join(root, 'sync-server'), stdio: 'inherit' },
    ),
  );
}
children.push(
  spawn(
    process.execPath,
    [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), '--configLoader', 'runner'],
    {
      cwd: app,
      stdio: 'inherit',
    },
  ),
);
const stop = () => {
  for (const child of children) child.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const child of children) child.on('exit', (code) => (code ? stop() : undefined));
