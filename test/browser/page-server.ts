// The browser device's origin for test/browser/browser-device.e2e.test.ts: a node:http server on 127.0.0.1 that
// serves the page and its bundles (esbuild, for the browser), and nothing else. The page talks to the sync
// server on its own port, another origin, as a web app served apart from its sync server does: the server
// lets it through CORS and its WebSocket `Origin` check only because the test lists the page's origin in
// `allowedOrigins`.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The page's script and its crypto worker's, bundled for the browser (no Node API may remain). */
export const bundleBrowserDevice = async (
  /** The page's entry, beside this file: the device page by default, or another app page. */
  pageEntry = 'device-page.ts',
): Promise<{ page: string; worker: string }> => {
  const bundle = async (entry: string, format: 'esm' | 'iife') => {
    const out = await build({
      entryPoints: [path.join(here, entry)],
      bundle: true,
      platform: 'browser',
      format,
      target: 'es2022',
      write: false,
      logLevel: 'silent',
      // An accidental `process`, `Buffer` or `node:*` in the packages fails the build or the page.
    });
    const file = out.outputFiles[0];
    if (!file) throw new Error(`esbuild produced nothing for ${entry}`);
    return file.text;
  };
  const [page, worker] = await Promise.all([bundle(pageEntry, 'esm'), bundle('crypto-worker.ts', 'iife')]);
  return { page, worker };
};

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Hale browser device</title></head>
<body><script type="module" src="/device-page.js"></script></body></html>`;

export interface PageServer {
  /** The origin the page is served from (not the sync server's). */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the bundles on a loopback port; any other path is 404. */
export const servePage = async (bundles: { page: string; worker: string }): Promise<PageServer> => {
  const own: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html; charset=utf-8', body: PAGE },
    '/device-page.js': { type: 'text/javascript; charset=utf-8', body: bundles.page },
    '/crypto-worker.js': { type: 'text/javascript; charset=utf-8', body: bundles.worker },
  };
  const server = http.createServer((req, res) => {
    const served = own[req.url ?? ''];
    if (!served) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': served.type, 'cache-control': 'no-store' });
    res.end(served.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('page server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
