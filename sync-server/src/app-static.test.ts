// The built web app served at `/` (plugins/app-static.ts): files with their caching, index.html for the
// app's routes with a strict CSP, and the API's paths never answered with the app. A real server on a
// loopback port serving a small build made here.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from './store/index';
import { buildApp } from './app';
import { startServer, tryUpgrade, type TestServer } from './testing/harness';

let dir = '';
let server: TestServer | null = null;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hale-app-'));
  await mkdir(path.join(dir, 'assets'));
  await writeFile(
    path.join(dir, 'index.html'),
    '<!doctype html><title>Hale</title><script type="module" src="/assets/index-abc123.js"></script>',
  );
  await writeFile(path.join(dir, 'assets', 'index-abc123.js'), 'console.log("app")');
  await writeFile(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  await server?.stop();
  server = null;
});

const serve = async (): Promise<TestServer> => {
  server = await startServer({ config: { appDir: dir } });
  return server;
};

describe('the web app at /', () => {
  it('answers index.html for / and app routes, never stored, with a strict CSP', async () => {
    const t = await serve();
    for (const p of ['/', '/index.html', '/chart/labs/01HZX', '/settings?x=1', '/unlock']) {
      const res = await fetch(t.url + p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('<title>Hale</title>');
      expect(res.headers.get('cache-control')).toBe('no-store');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
      // WebAssembly compiles (libsodium); JavaScript eval and inline script stay refused.
      expect(csp).not.toMatch(/script-src[^;]*('unsafe-inline'|'unsafe-eval')/);
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      const host = new URL(t.url).host;
      expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('serves hashed assets for a year and other files revalidated', async () => {
    const t = await serve();
    const asset = await fetch(`${t.url}/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(await asset.text()).toBe('console.log("app")');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    const icon = await fetch(`${t.url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it('never shadows the API: its routes answer, its unknown paths are its JSON 404', async () => {
    const t = await serve();
    const health = await fetch(`${t.url}/healthz`);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const info = await fetch(`${t.url}/v1/server`);
    expect(info.headers.get('content-type')).toMatch(/json/);
    for (const p of [
      '/v1/nothing',
      '/v1',
      '/assets/missing-1.js',
      '/missing.png',
      '/v1/accounts/x/devices/y/z',
    ]) {
      const res = await fetch(t.url + p);
      expect(res.status, p).toBe(404);
      expect(await res.json(), p).toMatchObject({ code: 'NOT_FOUND' });
    }
    const post = await fetch(`${t.url}/`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(post.status).toBe(404);
    // /sync still takes its upgrades; the app's paths take none.
    const sync = await tryUpgrade(t);
    expect(sync.status).toBe(101);
    if ('ws' in sync) sync.ws.close();
    const other = await tryUpgrade({ ...t, wsUrl: t.wsUrl.replace(/\/sync$/, '/chart') });
    expect(other.status).toBe(400);
  });

  it('serves nothing outside the build', async () => {
    const t = await serve();
    for (const p of ['/../package.json', '/%2e%2e/%2e%2e/package.json', '/assets/..%2f..%2fpackage.json']) {
      const res = await fetch(t.url + p);
      expect(await res.text(), p).not.toContain('"name"');
    }
  });

  it('serves no app without an app directory, and refuses one without index.html', async () => {
    server = await startServer();
    const res = await fetch(`${server.url}/`);
    expect(res.status).toBe(404);
    const empty = await mkdtemp(path.join(tmpdir(), 'hale-noapp-'));
    const store = await openSqliteStore({ dataDir: empty });
    try {
      await expect(buildApp({ store, config: { appDir: empty } })).rejects.toMatchObject({
        code: 'APP_DIR_INVALID',
      });
    } finally {
      await store.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});
