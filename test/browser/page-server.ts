// The browser device's origin for test/browser-device.e2e.test.ts: a node:http server on 127.0.0.1 that
// serves the page and its bundles (esbuild, for the browser) and passes every other request, WebSocket
// upgrades included, to the sync server. The page and the server's API thus share one origin, as a web
// app served beside its sync server does: the sync server sends no CORS headers, so a page of another
// origin could not read its answers.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The page's script and its crypto worker's, bundled for the browser (no Node API may remain). */
export const bundleBrowserDevice = async (): Promise<{ page: string; worker: string }> => {
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
  const [page, worker] = await Promise.all([
    bundle('device-page.ts', 'esm'),
    bundle('crypto-worker.ts', 'iife'),
  ]);
  return { page, worker };
};

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Hale browser device</title></head>
<body><script type="module" src="/device-page.js"></script></body></html>`;

export interface PageServer {
  /** The origin the page is served from, which also reaches the sync server. */
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the bundles on a loopback port in front of the sync server at `target` (an http:// origin). */
export const servePage = async (
  bundles: { page: string; worker: string },
  target: string,
): Promise<PageServer> => {
  const upstream = new URL(target);
  const port = Number(upstream.port);
  const host = upstream.hostname;
  const sockets = new Set<net.Socket>();
  const own: Record<string, { type: string; body: string }> = {
    '/': { type: 'text/html; charset=utf-8', body: PAGE },
    '/device-page.js': { type: 'text/javascript; charset=utf-8', body: bundles.page },
    '/crypto-worker.js': { type: 'text/javascript; charset=utf-8', body: bundles.worker },
  };
  const server = http.createServer((req, res) => {
    const served = own[req.url ?? ''];
    if (served) {
      res.writeHead(200, { 'content-type': served.type, 'cache-control': 'no-store' });
      res.end(served.body);
      return;
    }
    const forward = http.request(
      { host, port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forward);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    const to = net.connect(port, host, () => {
      const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      to.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) to.write(head);
      socket.pipe(to).pipe(socket);
    });
    sockets.add(socket).add(to);
    const drop = (): void => {
      socket.destroy();
      to.destroy();
      sockets.delete(socket);
      sockets.delete(to);
    };
    socket.on('error', drop).on('close', drop);
    to.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('page server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
