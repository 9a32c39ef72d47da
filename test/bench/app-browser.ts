/**
 * What the app benchmark runs on: the sync server as its own process on a loopback port, serving the
 * built app (packages/app/dist; `npm run build` first), and Debian's headless Chromium through Playwright.
 *
 * - The server gets a fresh data directory in tmp (removed on stop) and the budgets of a host with 200
 *   devices on one address (every device here comes from 127.0.0.1).
 * - The page probe (`PROBE`) is plain JavaScript evaluated in the page: it watches for a condition frame
 *   by frame (requestAnimationFrame) and measures frame times while it scrolls.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from '@playwright/test';
import { freePort } from '../support/process';

const root = path.resolve(import.meta.dirname, '../..');
/** The built app served; `HALE_APP_DIST` serves another build (e.g. one made with `--outDir`). */
export const APP_DIST = process.env['HALE_APP_DIST'] ?? path.join(root, 'packages/app/dist');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface AppServer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startAppServer(): Promise<AppServer> {
  if (!existsSync(path.join(APP_DIST, 'index.html')))
    throw new Error('no built app: run `npm run build` first');
  const port = Number(process.env['HALE_APP_TEST_PORT'] ?? (await freePort()));
  const dataDir = mkdtempSync(path.join(tmpdir(), 'hale-app-bench-'));
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/main.ts',
      ...['--port', String(port), '--data-dir', dataDir, '--app-dir', APP_DIST],
      ...['--rate-per-address', '100000', '--max-connections-per-address', '2000', '--log-level', 'warn'],
    ],
    { cwd: path.join(root, 'sync-server'), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  for (const until = Date.now() + 240_000; ;) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    const up = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > until) {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`server did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({
    executablePath: process.env['HALE_CHROMIUM'] ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });

/**
 * The probe: `__bench.watch(cond)` starts a frame loop and answers a handle whose `t` is the
 * `performance.now()` of the first frame where `cond()` held; `__bench.mark(type)` stores the time of the
 * next event of `type` (capture phase) in `__bench.t0`; `__bench.scroll(step, frames)` scrolls the window
 * by `step` px a frame and answers the frame deltas and the long animation frames seen meanwhile.
 * `__idbOpens` lists every IndexedDB database opened (name, time): the first store opened after an Unlock
 * submit marks the end of the key derivation, which runs before any store is opened.
 */
const PROBE = `
window.__idbOpens = [];
(function () {
  const open = IDBFactory.prototype.open;
  IDBFactory.prototype.open = function (name) {
    window.__idbOpens.push({ name: String(name), t: performance.now() });
    return open.apply(this, arguments);
  };
})();
window.__bench = {
  t0: null,
  mark(type) {
    window.__bench.t0 = null;
    document.addEventListener(type, () => { window.__bench.t0 = performance.now(); }, { capture: true, once: true });
  },
  watch(cond) {
    const handle = { t: null };
    const tick = () => {
      let ok = false;
      try { ok = cond(); } catch { ok = false; }
      if (ok) handle.t = performance.now(); else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    return handle;
  },
  scroll(step, frames) {
    return new Promise((resolve) => {
      const loaf = [];
      let observer = null;
      try {
        observer = new PerformanceObserver((list) => {
          for (const e of list.getEntries()) {
            loaf.push(e.duration);
            const scripts = (e.scripts || []).map((x) => [x.invoker || '?', x.sourceFunctionName || '', (x.sourceURL || '').split('/').pop(), Math.round(x.duration) + ' ms'].join(' '));
            if (e.duration > (window.__bench.longest?.duration ?? 0)) window.__bench.longest = { duration: e.duration, scripts };
          }
        });
        observer.observe({ type: 'long-animation-frame', buffered: false });
      } catch { observer = null; }
      const deltas = [];
      let last = null;
      let n = 0;
      const tick = (now) => {
        if (last !== null) deltas.push(now - last);
        last = now;
        if (n++ >= frames || window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2) {
          setTimeout(() => { observer?.disconnect(); resolve({ deltas, loaf, loafSupported: observer !== null, y: window.scrollY, longest: window.__bench.longest ?? null }); }, 100);
          return;
        }
        window.scrollBy(0, step);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
  },
};
`;

export async function installProbe(page: Page): Promise<void> {
  await page.addInitScript(PROBE);
}

/** Runs `cond` (a JavaScript expression) through `__bench.watch`; answers the handle's name. */
export async function watch(page: Page, name: string, cond: string): Promise<void> {
  await page.evaluate(`window.${name} = window.__bench.watch(() => (${cond}))`);
}

/**
 * Polls the JavaScript expression `expr` in the page until it is truthy (the app's CSP refuses the
 * string predicates of `page.waitForFunction`, which the page would evaluate itself).
 */
export async function until(page: Page, expr: string, timeoutMs = 120_000): Promise<void> {
  for (const end = Date.now() + timeoutMs; ;) {
    if ((await page.evaluate(`Boolean(${expr})`)) === true) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits for the watch `name` to see its condition; answers its frame time (ms, page clock). */
export async function seen(page: Page, name: string, timeoutMs = 120_000): Promise<number> {
  await until(page, `window.${name} && window.${name}.t !== null`, timeoutMs);
  return await page.evaluate<number>(`window.${name}.t`);
}

export const pageNow = async (page: Page): Promise<number> =>
  await page.evaluate<number>('performance.now()');

/** Goes to `to` inside the app as its links do (a page load would start it anew, locked). */
export async function go(page: Page, to: string): Promise<void> {
  await page.evaluate(
    `window.history.pushState({}, '', ${JSON.stringify(to)}); window.dispatchEvent(new PopStateEvent('popstate', { state: {} }))`,
  );
}

export interface UnlockTimes {
  /** From the Unlock submit to the first frame where the condition held. */
  readonly total: number[];
  /** The same, from the first store opened after the submit (the key derivation runs before it). */
  readonly afterKdf: number[];
}

/** Submits `secret` on the unlock screen; answers the times to the first frame where `usable` holds. */
export async function unlockTimed(
  page: Page,
  secret: string,
  usable: string,
): Promise<{ total: number; afterKdf: number }> {
  await page.getByLabel('Passphrase').fill(secret);
  await page.evaluate(`window.__bench.mark('submit')`);
  await watch(page, '__w', usable);
  await page.getByRole('button', { name: 'Unlock' }).click();
  const t = await seen(page, '__w');
  const t0 = await page.evaluate<number>('window.__bench.t0');
  const opens = await page.evaluate<{ name: string; t: number }[]>('window.__idbOpens');
  const store = opens.find((o) => o.t >= t0 && o.name.startsWith('rxdb-'));
  if (store === undefined) throw new Error('no store was opened after the Unlock submit');
  return { total: t - t0, afterKdf: t - store.t };
}
