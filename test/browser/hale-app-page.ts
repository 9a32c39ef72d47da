// Browser entry of test/client-api/browser-reload.e2e.test.ts: a web app as the guide tells one to build
// it, from the public entry points only: `openHale` of @hale/client over `webPlatform(...)` of
// @hale/platform-web (Dexie on Chromium's IndexedDB, the vault on IndexedDB written durably, Web Locks,
// the browser's WebSocket and fetch, the crypto on a Web Worker). The test drives it through
// `globalThis.haleApp` (page.evaluate) and checks every answer.
import { isHaleError, openHale, type Hale, type HaleSession } from '@hale/client';
import {
  webPlatform,
  type BrowserSocketConstructor,
  type IdbFactoryLike,
  type WebLockManagerLike,
  type WebWorkerLike,
} from '@hale/platform-web';

// The browser APIs the platform takes, typed here: the repository's TypeScript program has no DOM lib.
interface BrowserGlobals {
  indexedDB: IdbFactoryLike;
  WebSocket: BrowserSocketConstructor;
  Worker: new (url: string) => WebWorkerLike;
  navigator: { locks: WebLockManagerLike };
}
const browser = globalThis as typeof globalThis & BrowserGlobals;

let hale: Hale | null = null;
let session: HaleSession | null = null;

const open = async (server: string): Promise<Hale> =>
  (hale ??= await openHale({
    server,
    platform: webPlatform({
      indexedDB: browser.indexedDB,
      WebSocket: browser.WebSocket,
      fetch: (url, init) => fetch(url, init),
      locks: browser.navigator.locks,
      worker: () => new browser.Worker('/crypto-worker.js'),
    }),
  }));

const current = (): HaleSession => {
  if (session === null) throw new Error('no session: create an account or unlock first');
  return session;
};

/** A HaleError as plain data (the test reads its code), anything else thrown on. */
const asCode = async <T>(run: () => Promise<T>): Promise<T | { error: string }> => {
  try {
    return await run();
  } catch (e) {
    if (isHaleError(e)) return { error: e.code };
    throw e;
  }
};

const haleApp = {
  hasAccount: async (server: string) => (await open(server)).hasAccount(),
  createAccount: async (server: string, passphrase: string) => {
    const created = await (
      await open(server)
    ).createAccount({
      role: 'patient',
      passphrase,
      deviceName: 'Chromium',
    });
    session = created.session;
    return { accountId: session.account.accountId, saved: created.notSaved === undefined };
  },
  unlock: (server: string, passphrase: string) =>
    asCode(async () => {
      session = await (await open(server)).unlock({ passphrase });
      return { accountId: session.account.accountId };
    }),
  goOffline: () => current().sync.goOffline(),
  addAllergy: async (substance: string) =>
    (
      await current().records.add('Allergy', {
        substance,
        severity: 'mild',
        recordedAt: new Date().toISOString(),
        active: true,
      })
    ).id,
  /** The allergies as the list screen shows them (oldest first), once the store answered. */
  allergies: async () =>
    (await current().records.query('Allergy', { order: 'asc' })).items.map((r) => ({
      id: r.record.id,
      substance: r.record.substance,
    })),
  search: (query: string) =>
    new Promise<string[]>((resolve) => {
      const results = current().search(query);
      const stop = results.subscribe(() => {
        const now = results.get();
        if (!now.ready) return;
        stop();
        resolve(now.hits.map((h) => `${h.kind}:${h.field}`));
      });
    }),
  state: () => {
    const { status, pendingWrites } = current().sync.state.get();
    return { status, pendingWrites };
  },
  close: async () => {
    await session?.close();
    session = null;
  },
};

export type HaleAppPage = typeof haleApp;
(globalThis as typeof globalThis & { haleApp: HaleAppPage }).haleApp = haleApp;
