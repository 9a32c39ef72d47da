// Vite builds the app into dist/ (hashed assets under assets/, served by the sync server's app-static
// plugin) and serves it in development with the API proxied to a local sync server (scripts/dev.mjs).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import pkg from './package.json' with { type: 'json' };
import { halePwa } from './vite.pwa';

const api = process.env['HALE_DEV_API'] ?? 'http://127.0.0.1:8787';

export default defineConfig({
  // halePwa: the web app manifest, icons, the release service worker (/sw.js) and release.json (build only).
  plugins: [react(), halePwa({ version: pkg.version, themeColor: '#1c7ed6' })],
  // The version this page runs (the release notice offers a reload when the installed one is newer).
  define: { __HALE_APP_VERSION__: JSON.stringify(pkg.version) },
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // No inline module preload polyfill: the served CSP allows no inline script.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    // dist/.vite/manifest.json: which chunks each route loads (scripts/unlock-size.ts measures the unlock screen's).
    manifest: true,
    chunkSizeWarningLimit: 1500,
  },
  worker: { format: 'es' },
  server: {
    proxy: {
      '/v1': api,
      '/healthz': api,
      '/sync': { target: api.replace(/^http/, 'ws'), ws: true },
    },
  },
});
