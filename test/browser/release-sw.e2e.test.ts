// The installed web app's release service worker in real Chromium (Debian's, through playwright-core):
// packages/app/src/sw/release-sw.ts and register.ts bundled by esbuild as vite.pwa.ts bundles them, served
// by a server this test controls. After one visit the app opens offline from the installed release; the
// server's unsigned, tampered and older releases are refused and said so, the installed files stay; a
// release signed by the key the worker carries is taken and said so.
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import type { Page } from 'playwright-core';
import { generateReleaseKey, listFiles, releaseKey, signRelease } from '@hale/release/node';
import type { ReleaseManifest } from '@hale/release';
import { launchBrowser, requireChromium } from './harness';

const root = path.resolve(import.meta.dirname, '../..');
const prod = generateReleaseKey();
const key = releaseKey({ HALE_RELEASE_KEY: prod.seedHex });

/** The site: files by path, and what `release.json` says; `publish` signs (or not) the files as they are. */
const files = new Map<string, { body: Buffer; type: string }>();
const put = (p: string, body: string | Buffer, type: string): void => {
  files.set(p, { body: Buffer.isBuffer(body) ? body : Buffer.from(body), type });
};

const manifestOf = async (sequence: number): Promise<ReleaseManifest> => {
  const { mkdtemp, writeFile, mkdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(path.join(tmpdir(), 'hale-release-'));
  for (const [p, f] of files) {
    if (p === '/release.json') continue;
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), f.body);
  }
  const list = await listFiles(dir);
  await rm(dir, { recursive: true, force: true });
  return {
    v: 1,
    app: 'hale',
    version: `1.0.${sequence}`,
    sequence,
    createdAt: new Date().toISOString(),
    dev: false,
    files: list,
  };
};

const publish = async (sequence: number, signed = true): Promise<void> => {
  const manifest = await manifestOf(sequence);
  put(
    '/release.json',
    JSON.stringify(signed ? signRelease(manifest, key) : { manifest }),
    'application/json',
  );
};

const appVersion = (v: string): void =>
  put('/app.js', `window.APP_VERSION = ${JSON.stringify(v)};`, 'text/javascript');

let server: Server;
let url = '';
let browser: Awaited<ReturnType<typeof launchBrowser>>;
let page: Page;

beforeAll(async () => {
  requireChromium();
  const bundle = async (entry: { file?: string; contents?: string }, define: Record<string, string> = {}) => {
    const out = await build({
      ...(entry.file
        ? { entryPoints: [entry.file] }
        : { stdin: { contents: entry.contents ?? '', resolveDir: root, loader: 'ts' } }),
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      write: false,
      define,
    });
    return out.outputFiles[0]?.text ?? '';
  };
  put(
    '/sw.js',
    await bundle(
      { file: path.join(root, 'packages/app/src/sw/release-sw.ts') },
      { __HALE_RELEASE_KEYS__: JSON.stringify([prod.publicKeyHex]), __HALE_DEV_BUILD__: 'false' },
    ),
    'text/javascript',
  );
  put(
    '/page.js',
    await bundle({
      contents: `
        import { registerReleaseWorker } from './packages/app/src/sw/register';
        const w = window as unknown as { __events: unknown[]; __worker: unknown; APP_VERSION: string };
        w.__events = [];
        document.getElementById('v')!.textContent = w.APP_VERSION;
        void registerReleaseWorker({
          navigator,
          fetch: (u, i) => fetch(u, i),
          subtle: crypto.subtle,
          onRelease: (e) => w.__events.push(e),
        }).then((worker) => { w.__worker = worker; });
      `,
    }),
    'text/javascript',
  );
  put(
    '/index.html',
    '<!doctype html><html><head><title>Hale</title></head><body><p id="v"></p>' +
      '<script src="/app.js"></script><script src="/page.js"></script></body></html>',
    'text/html; charset=utf-8',
  );
  appVersion('1');
  await publish(1);
  server = createServer((req, res) => {
    const p = new URL(req.url ?? '/', 'http://x').pathname;
    const f = files.get(p === '/' ? '/index.html' : p);
    if (f === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': f.type, 'cache-control': 'no-cache' }).end(f.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  browser = await launchBrowser('hale-sw-');
  page = await browser.context.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
});

interface Shown {
  type: string;
  reason?: string;
  to?: string;
  version?: string;
}
const events = (): Promise<Shown[]> =>
  page.evaluate(() => (globalThis as unknown as { __events: Shown[] }).__events);
const shownVersion = (): Promise<string | null> => page.locator('#v').textContent();

const waitForEvent = async (match: (e: Shown) => boolean, what: string): Promise<Shown> => {
  const until = Date.now() + 20_000;
  for (;;) {
    const found = (await events()).find(match);
    if (found) return found;
    if (Date.now() > until) throw new Error(`no ${what} event: ${JSON.stringify(await events())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

const askForUpdate = async (): Promise<void> => {
  // The page sets `__worker` once the worker's registration answers, some time after a reload.
  await page.waitForFunction(() => (globalThis as unknown as { __worker?: unknown }).__worker !== undefined);
  await page.evaluate(() => {
    (globalThis as unknown as { __events: unknown[] }).__events = [];
    (globalThis as unknown as { __worker: { checkNow(): void } }).__worker.checkNow();
  });
};

describe('the release service worker', () => {
  it('installs the signed release on the first visit and serves it, offline too', async () => {
    await page.goto(url);
    await waitForEvent((e) => e.type === 'installed', 'installed');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { navigator: { serviceWorker: { controller: unknown } } }).navigator
          .serviceWorker.controller !== null,
    );
    const again = await page.reload();
    expect(again?.headers()['x-hale-release']).toBe('1.0.1');
    expect(await shownVersion()).toBe('1');
    // A file the release does not list is not served from it.
    const unlisted = await page.evaluate(async () => (await fetch('/elsewhere.js')).status);
    expect(unlisted).toBe(404);
    await browser.context.setOffline(true);
    await page.reload();
    expect(await shownVersion()).toBe('1');
    await browser.context.setOffline(false);
  }, 60_000);

  it('refuses an unsigned release and keeps the installed files', async () => {
    await page.reload();
    appVersion('evil');
    await publish(2, false);
    await askForUpdate();
    expect(await waitForEvent((e) => e.type === 'refused', 'refused')).toMatchObject({ reason: 'unsigned' });
    await page.reload();
    expect(await shownVersion()).toBe('1');
  }, 60_000);

  it('refuses a signed release whose file the server changed (tampered-file)', async () => {
    appVersion('2');
    await publish(2);
    appVersion('tampered');
    await askForUpdate();
    expect(await waitForEvent((e) => e.type === 'refused', 'refused')).toMatchObject({
      reason: 'tampered-file',
    });
    await page.reload();
    expect(await shownVersion()).toBe('1');
  }, 60_000);

  it('takes a newer release signed by its key, and says so', async () => {
    appVersion('2');
    await publish(2);
    await askForUpdate();
    expect(await waitForEvent((e) => e.type === 'updated', 'updated')).toMatchObject({ to: '1.0.2' });
    const after = await page.reload();
    expect(after?.headers()['x-hale-release']).toBe('1.0.2');
    expect(await shownVersion()).toBe('2');
  }, 60_000);

  it('refuses an older signed release (downgrade)', async () => {
    appVersion('1');
    await publish(1);
    await askForUpdate();
    expect(await waitForEvent((e) => e.type === 'refused', 'refused')).toMatchObject({ reason: 'downgrade' });
    await page.reload();
    expect(await shownVersion()).toBe('2');
  }, 60_000);
});
