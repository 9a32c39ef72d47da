// Vite builds the app into dist/ (hashed assets under assets/, served by the sync server's app-static
// plugin) and serves it in development with the API proxied to a local sync server (scripts/dev.mjs).
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const api = process.env['HALE_DEV_API'] ?? 'http://127.0.0.1:8787';

export default defineConfig({
  plugins: [react()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // No inline module preload polyfill: the served CSP allows no inline script.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
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
