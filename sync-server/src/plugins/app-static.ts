/**
 * Serves the built web app (packages/app/dist, or `--app-dir`) at `/`, beside the API.
 *
 * | path | answer | cached |
 * |---|---|---|
 * | `/assets/*` (hashed names) | the file | a year, immutable |
 * | other files of the build (`/favicon.svg`, …) | the file | revalidated every time |
 * | `/`, `/index.html`, and any other GET path an app route may be (`/chart/labs/…`) | index.html | never stored |
 * | `/v1/*`, `/sync`, `/healthz`, `/metrics`, unknown paths with a file extension | the API's own answer or its JSON 404 | — |
 *
 * Invariants: an API route always wins (files and the fallback are GET routes below the API's, and the
 * fallback hands API paths to the not-found handler); every answer carries `nosniff`, `no-referrer` and a
 * frame ban; index.html carries the CSP: scripts only from this origin (no inline script, no eval), styles
 * from this origin and inline (Mantine sets CSS variables in style elements), connections only to this
 * origin and its WebSocket, no plugins, no framing. Files are listed once at start (a rebuild needs a
 * restart). Failure modes: a directory without index.html is refused at start (AppDirError).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';

export class AppDirError extends Error {
  readonly code = 'APP_DIR_INVALID';
}

/** Paths the API owns: never answered with the app. */
const API_PATH = /^\/(v1(\/|$)|sync$|healthz$|metrics$)/;
/** A path naming a file (`/foo.js`): a missing file is a 404, not the app. */
const FILE_PATH = /\/[^/]+\.[A-Za-z0-9]{1,8}$/;
/** A Host header as a browser sends it (name or address, optional port); anything else gets 'self' only. */
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export const contentSecurityPolicy = (host: string | undefined): string => {
  const socket = host !== undefined && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self' data:",
    `connect-src 'self'${socket}`,
    "worker-src 'self'",
    "frame-src 'self' blob:",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
};

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
} as const;

export const appStaticPlugin: FastifyPluginAsync<{ dir: string }> = async (app, { dir }) => {
  const root = path.resolve(dir);
  const index = await readFile(path.join(root, 'index.html')).catch(() => {
    throw new AppDirError(`no index.html in ${root}: build the app first (npm run build)`);
  });

  const sendIndex = (request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    reply
      .headers(COMMON_HEADERS)
      .header('content-security-policy', contentSecurityPolicy(request.headers.host))
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(index);

  await app.register(fastifyStatic, {
    root,
    // One route per file, listed now: no file route can take a path the API owns.
    wildcard: false,
    index: false,
    cacheControl: false,
    globIgnore: ['index.html'],
    setHeaders(res, file) {
      void res.headers(COMMON_HEADERS);
      const immutable = path.relative(root, file).split(path.sep)[0] === 'assets';
      void res.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });

  app.get('/', sendIndex);
  app.get('/index.html', sendIndex);
  app.get('/*', async (request, reply) => {
    const url = request.url.split('?')[0] ?? '/';
    if (API_PATH.test(url) || FILE_PATH.test(url)) return reply.callNotFound();
    return sendIndex(request, reply);
  });
};
