/**
 * The installed web app's service worker (bundled as `/sw.js` by vite.pwa.ts). It keeps the installed
 * release and serves only its files; it takes an update only when the server's `release.json` is signed by
 * a release key this script carries (`__HALE_RELEASE_KEYS__`, fixed at build) and every file matches it,
 * and tells open pages (`{ type: 'hale-release', event }`) that an update came or was refused.
 *
 * Hand-written, not Workbox: Workbox's precache list is part of the service worker script, so each release
 * is a new script that the browser installs from the server by itself — the server would decide what runs.
 * Here the script stays the same from release to release and the file list is data it verifies; the
 * browser replaces the script only if the server serves other bytes for `/sw.js` (docs/architecture.md,
 * "What the installed web app still trusts").
 *
 * | request | answer |
 * |---|---|
 * | API (`/v1/…`, `/sync`, `/healthz`, `/metrics`), `release.json`, `sw.js`, other origins, non-GET | the network, untouched |
 * | a path the installed release lists | its stored bytes |
 * | a page navigation to any other path | the release's `/index.html` (client-side routes) |
 * | anything else | 404 "not part of the installed release" |
 * | (nothing installed: a refused first install) | the network |
 *
 * Every answer from the release carries the headers the server's app-static plugin sets (nosniff, no
 * referrer, no framing) and a page carries the same CSP: a page served offline is as locked down as one
 * served by the server.
 *
 * Update checks: at activation, at most every CHECK_EVERY_MS on a navigation, and when a page asks
 * (`{ type: 'hale-check-update' }`). `{ type: 'hale-release-status' }` is answered with the installed
 * version, whether this is a development build, and the last event.
 */
import { createReleaseUpdater, ReleaseRefused, type ReleaseEvent } from '@hale/release';
import { cacheStorageRelease, type CacheStorageLike } from './release-cache';

declare const __HALE_RELEASE_KEYS__: readonly string[];
declare const __HALE_DEV_BUILD__: boolean;

/** The parts of the service worker's global scope used here (the project's TypeScript has no WebWorker lib). */
interface ExtendableEventLike {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEventLike extends ExtendableEventLike {
  readonly request: Request & { readonly mode?: string };
  respondWith(r: Promise<Response>): void;
}
interface MessageEventLike extends ExtendableEventLike {
  readonly data: unknown;
  readonly source: { postMessage(message: unknown): void } | null;
}
interface ClientLike {
  postMessage(message: unknown): void;
}
interface ServiceWorkerScopeLike {
  readonly location: { readonly origin: string; readonly host: string };
  readonly caches: CacheStorageLike;
  fetch(request: Request): Promise<Response>;
  fetch(url: string, init: { cache: 'no-store'; redirect: 'error' }): Promise<Response>;
  readonly clients: {
    claim(): Promise<void>;
    matchAll(options: { includeUncontrolled: boolean }): Promise<readonly ClientLike[]>;
  };
  addEventListener(type: 'install' | 'activate', listener: (event: ExtendableEventLike) => void): void;
  addEventListener(type: 'fetch', listener: (event: FetchEventLike) => void): void;
  addEventListener(type: 'message', listener: (event: MessageEventLike) => void): void;
}

// The one place the global is typed: a service worker's global scope is the platform this file binds to.
const sw = globalThis as unknown as ServiceWorkerScopeLike;

export const CHECK_EVERY_MS = 6 * 3_600_000;
const PASS_THROUGH = ['/v1/', '/sync', '/healthz', '/metrics', '/release.json', '/sw.js'];

const cache = cacheStorageRelease(sw.caches);

const broadcast = async (event: ReleaseEvent): Promise<void> => {
  await cache.rememberEvent(event);
  for (const client of await sw.clients.matchAll({ includeUncontrolled: true })) {
    client.postMessage({ type: 'hale-release', event });
  }
};

const updater = createReleaseUpdater({
  cache,
  trustedKeys: __HALE_RELEASE_KEYS__,
  emit: (event) => void broadcast(event),
  fetchFile: async (path) => {
    const res = await sw.fetch(new URL(path, sw.location.origin).href, {
      cache: 'no-store',
      redirect: 'error',
    });
    if (!res.ok) return null;
    return { bytes: new Uint8Array(await res.arrayBuffer()), contentType: res.headers.get('content-type') };
  },
});

let lastCheck = 0;
const checkSoon = (): Promise<unknown> => {
  lastCheck = Date.now();
  return updater.check().catch(() => null);
};

sw.addEventListener('install', (event) => {
  event.waitUntil(
    updater.install().catch((error: unknown) => {
      // A refused first install must not leave a worker serving nothing: the install fails, the page runs
      // from the network and shows why (the event was broadcast).
      if (error instanceof ReleaseRefused) throw error;
      throw error instanceof Error ? error : new Error(String(error));
    }),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(sw.clients.claim().then(checkSoon));
});

/** The CSP of sync-server/src/plugins/app-static.ts (`contentSecurityPolicy`), for this worker's host. */
export const pageCsp = (host: string): string =>
  [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' blob: data:",
    "font-src 'self' data:",
    `connect-src 'self' ws://${host} wss://${host}`,
    "worker-src 'self'",
    "frame-src 'self' blob:",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');

const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
} as const;

const notInRelease = (): Response =>
  new Response('not part of the installed release', {
    status: 404,
    headers: { 'content-type': 'text/plain; charset=utf-8' },
  });

const serve = async (request: FetchEventLike['request'], path: string): Promise<Response> => {
  const installed = await updater.installed();
  if (installed === null) return sw.fetch(request);
  const navigation = request.mode === 'navigate';
  if (navigation && Date.now() - lastCheck > CHECK_EVERY_MS) void checkSoon();
  const file = (await updater.file(path)) ?? (navigation ? await updater.file('/index.html') : null);
  if (file === null) return notInRelease();
  const headers: Record<string, string> = { ...COMMON_HEADERS, 'x-hale-release': installed.version };
  if (file.contentType !== null) headers['content-type'] = file.contentType;
  if (file.contentType?.startsWith('text/html') === true || navigation) {
    headers['content-security-policy'] = pageCsp(sw.location.host);
  }
  return new Response(new Uint8Array(file.bytes), { status: 200, headers });
};

sw.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== sw.location.origin) return;
  if (PASS_THROUGH.some((prefix) => url.pathname === prefix || url.pathname.startsWith(prefix))) return;
  event.respondWith(serve(request, url.pathname));
});

sw.addEventListener('message', (event) => {
  const type = (event.data as { type?: unknown } | null)?.type;
  if (type === 'hale-check-update') {
    event.waitUntil(checkSoon());
    return;
  }
  if (type === 'hale-release-status') {
    event.waitUntil(
      (async () => {
        const installed = await updater.installed();
        event.source?.postMessage({
          type: 'hale-release-status',
          installed:
            installed === null
              ? null
              : { version: installed.version, sequence: installed.sequence, dev: installed.dev },
          devBuild: __HALE_DEV_BUILD__,
          lastEvent: await cache.lastEvent(),
          workerHash: installed?.files.find((f) => f.path === '/sw.js')?.sha256 ?? null,
        });
      })(),
    );
  }
});
