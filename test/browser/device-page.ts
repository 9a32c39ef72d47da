// Browser entry of test/browser/browser-device.e2e.test.ts: one patient device as a web app assembles it, from the
// packages' entry points only, over the page's own platform (Dexie on the browser's IndexedDB, the
// browser's WebSocket and fetch, WebCrypto through `chooseEd25519`, the vault on IndexedDB written durably
// (@hale/platform-web), optionally a Web Worker for the crypto offload). Nothing here comes from Node: esbuild bundles it for the browser.
// The test drives it through `globalThis.haleDevice` (page.evaluate) and validates every answer.
import {
  createHttpApi,
  createWorkerOffload,
  isAccountError,
  joinWithPassphrase,
  openDeviceSession,
  unlock,
  type CryptoJob,
  type CryptoOffload,
  type DeviceSession,
  type UnlockedAccount,
  type Vault,
  type WorkerOffload,
} from '@hale/client/advanced';
import { chooseEd25519, loadSodiumSecretbox, secretboxName, useSecretbox, type Ed25519 } from '@hale/crypto';
import {
  browserWebSocket,
  idbVault,
  webDeviceLock,
  webStorage,
  type BrowserSocketConstructor,
  type WebLockManagerLike,
  type IdbFactoryLike,
} from '@hale/platform-web';
import { decodeServerFrameTolerant } from '@hale/protocol';

// The few browser APIs this page uses, typed here: the repository's TypeScript program has no DOM lib
// (packages/* must not reach for DOM APIs), and a global DOM declaration would hide such a use there.
interface IdbRequest<T> {
  readonly result: T;
  readonly error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface IdbDatabase {
  readonly objectStoreNames: { readonly length: number; item(index: number): string | null };
  transaction(
    stores: string[],
    mode: 'readonly',
  ): {
    objectStore(name: string): { getAll(): IdbRequest<unknown[]>; getAllKeys(): IdbRequest<unknown[]> };
  };
  close(): void;
}
interface BrowserWorker {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: { message?: string }) => void) | null;
  onmessageerror: ((ev: unknown) => void) | null;
}
interface BrowserPlatform {
  WebSocket: BrowserSocketConstructor;
  Worker: new (url: string) => BrowserWorker;
  indexedDB: {
    databases(): Promise<Array<{ name?: string }>>;
    open(name: string): IdbRequest<IdbDatabase>;
  };
  navigator: { locks: WebLockManagerLike };
}

const browser = globalThis as typeof globalThis & BrowserPlatform;

// The same factory, as the vault's typed view of it.
const vault: Vault = idbVault({
  indexedDB: (globalThis as typeof globalThis & { indexedDB: IdbFactoryLike }).indexedDB,
});

/** Record ids seen in served documents since this page loaded, by frame: catch-up pages and live changes. */
const served = { pulled: new Map<string, number>(), changes: new Map<string, number>() };

const count = (into: Map<string, number>, docs: ReadonlyArray<{ id: string }>): void => {
  for (const doc of docs) into.set(doc.id, (into.get(doc.id) ?? 0) + 1);
};

const noteServed = (text: string): void => {
  const decoded = decodeServerFrameTolerant(text);
  if (!decoded.ok) return;
  const frame = decoded.value;
  if (frame.t === 'pulled') count(served.pulled, frame.docs);
  else if (frame.t === 'changes') count(served.changes, frame.docs);
};

/** The browser's own WebSocket, with every text frame the server sends noted before the device reads it. */
const noteServedSocket = browserWebSocket(browser.WebSocket, { onText: noteServed });

/** Jobs the Web Worker was sent, by op (to show the worker case really used it). */
const workerJobs = new Map<CryptoJob['op'], number>();

const webWorkerOffload = (): WorkerOffload =>
  createWorkerOffload(
    (events) => {
      const worker = new browser.Worker('/crypto-worker.js');
      worker.onmessage = (ev) => events.message(ev.data);
      worker.onmessageerror = (ev) => events.unreadable(ev);
      worker.onerror = () => events.died(new Error('the crypto Web Worker failed'));
      return { post: (message) => worker.postMessage(message), terminate: () => worker.terminate() };
    },
    // Every batch on the worker, so that a record's at-rest and wire seals really cross to it.
    { minBatch: 1 },
  );

const counting = (offload: CryptoOffload): CryptoOffload => ({
  ...(offload.minBatch === undefined ? {} : { minBatch: offload.minBatch }),
  run: (job) => {
    workerJobs.set(job.op, (workerJobs.get(job.op) ?? 0) + 1);
    return offload.run(job);
  },
});

interface Device {
  account: UnlockedAccount;
  session: DeviceSession;
  offload: WorkerOffload | null;
}
let device: Device | null = null;
let ed: Ed25519 | null = null;

const current = (): Device => {
  if (!device) throw new Error('no device session is open on this page');
  return device;
};

// The page's secretbox, as `webPlatform` gives `openHale` one: libsodium's WebAssembly where it loads.
const edOnce = async (): Promise<Ed25519> => {
  if (ed === null) {
    const box = await loadSodiumSecretbox();
    if (box) useSecretbox(box);
  }
  return (ed ??= await chooseEd25519());
};

const open = async (serverUrl: string, account: UnlockedAccount, worker: boolean): Promise<Device> => {
  const api = createHttpApi({ baseUrl: serverUrl, fetch });
  const offload = worker ? webWorkerOffload() : null;
  const session = await openDeviceSession({
    account,
    serverUrl,
    createWebSocket: noteServedSocket,
    storage: webStorage(),
    getAccount: (accountId) => api.getAccount(accountId),
    getDevice: (accountId, deviceId) => api.getAccountDevice(accountId, deviceId),
    getServerInfo: () => api.serverInfo(),
    ed: await edOnce(),
    vault,
    api,
    // One session of the device per origin: another tab (or the installed app) opening it is refused.
    deviceLock: webDeviceLock(browser.navigator.locks),
    ...(offload ? { cryptoOffload: counting(offload) } : {}),
  });
  return { account, session, offload };
};

const until = async (check: () => Promise<boolean> | boolean, what: string, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const request = <T>(req: IdbRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new Error(`IndexedDB request failed: ${String(req.error)}`));
  });

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** JSON of a stored value, binary decoded as UTF-8 so that plaintext kept in bytes would show too. */
const rawText = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v instanceof ArrayBuffer
      ? utf8.decode(new Uint8Array(v))
      : ArrayBuffer.isView(v)
        ? utf8.decode(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))
        : v,
  );

const api = {
  /** Joins the account with its passphrase on this browser (vault on IndexedDB) and opens the device. */
  join: async (input: {
    serverUrl: string;
    loginName: string;
    passphrase: string;
    deviceName: string;
    worker: boolean;
  }) => {
    const deps = {
      api: createHttpApi({ baseUrl: input.serverUrl, fetch }),
      vault,
      ed: await edOnce(),
    };
    const account = await joinWithPassphrase(deps, input);
    device = await open(input.serverUrl, account, input.worker);
    return {
      accountId: account.accountId,
      deviceId: account.device.deviceId,
      ed: deps.ed.name,
      secretbox: secretboxName(),
      dbName: device.session.db.name,
    };
  },
  /** Unlocks the account this browser's vault holds (offline, with the passphrase) and opens its device. */
  reopen: async (input: { serverUrl: string; passphrase: string; worker: boolean }) => {
    const account = await unlock({ vault, ed: await edOnce() }, input);
    device = await open(input.serverUrl, account, input.worker);
    return {
      accountId: account.accountId,
      deviceId: account.device.deviceId,
      dbName: device.session.db.name,
    };
  },
  /** `reopen`, answering the AccountError code it failed with instead of throwing it. */
  tryReopen: async (input: { serverUrl: string; passphrase: string; worker: boolean }) => {
    try {
      await api.reopen(input);
      return { opened: true, code: '', message: '' };
    } catch (e) {
      if (!isAccountError(e)) throw e;
      return { opened: false, code: e.code, message: e.message };
    }
  },
  /** Whether this page has a device session open. */
  isOpen: async () => device !== null,
  /** Exports the FHIR bundle: one audit entry of this device, sent at once. */
  exportFhir: async () => {
    await current().session.exportFhir();
  },
  waitOnline: async (ms: number) => {
    const { session } = current();
    await until(() => session.sync.state().status === 'online', 'the browser device is online', ms);
    return session.sync.state().status;
  },
  state: async () => {
    const { status, pendingWrites, initialSync } = current().session.sync.state();
    return { status, pendingWrites, initialSync };
  },
  addAllergy: async (input: { substance: string; notes: string }) => {
    const added = await current().session.records.add('Allergy', {
      substance: input.substance,
      severity: 'moderate',
      notes: input.notes,
      recordedAt: new Date().toISOString(),
      active: true,
    });
    return added.id;
  },
  /** One record as the device decrypts it, or null. */
  get: async (id: string) => {
    const stored = await current().session.records.get(id);
    return stored ? { kind: stored.kind, author: stored.author, record: stored.record } : null;
  },
  waitFor: async (id: string, ms: number) => {
    const { session } = current();
    await until(
      async () => (await session.records.get(id)) !== null,
      `record ${id} on the browser device`,
      ms,
    );
    return api.get(id);
  },
  /** Ids of the allergies and medications this device lists for its own account. */
  list: async () => {
    const { session } = current();
    const allergies = await session.records.query('Allergy');
    const medications = await session.records.query('Medication');
    return [...allergies, ...medications].map((s) => s.record.id);
  },
  waitPushed: async (ms: number) => {
    const { session } = current();
    await until(() => session.sync.state().pendingWrites === 0, 'the browser device pushed its writes', ms);
  },
  goOffline: async () => current().session.sync.goOffline(),
  goOnline: async () => current().session.sync.goOnline(),
  /** How often each record id came in served documents since the page loaded. */
  served: async () => ({
    pulled: Object.fromEntries(served.pulled),
    changes: Object.fromEntries(served.changes),
  }),
  workerJobs: async () => Object.fromEntries(workerJobs),
  /** Why the offload gave up on its Web Worker (its jobs then ran on the page's thread), or null. */
  workerFallback: async () => current().offload?.fallback()?.message ?? null,
  close: async () => {
    const open = device;
    device = null;
    if (!open) return;
    await open.session.close();
    await open.offload?.close();
  },
  /** Every row of every object store of every IndexedDB database of this origin, read as stored. */
  dumpIndexedDb: async () => {
    const databases: Array<{ name: string; stores: Array<{ name: string; rows: number }> }> = [];
    let text = '';
    for (const info of await browser.indexedDB.databases()) {
      if (info.name === undefined) continue;
      const db = await request(browser.indexedDB.open(info.name));
      try {
        const stores: Array<{ name: string; rows: number }> = [];
        for (let i = 0; i < db.objectStoreNames.length; i++) {
          const name = db.objectStoreNames.item(i);
          if (name === null) continue;
          const store = db.transaction([name], 'readonly').objectStore(name);
          const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
          stores.push({ name, rows: values.length });
          text += `${info.name}/${name}\n${rawText(keys)}\n${rawText(values)}\n`;
        }
        databases.push({ name: info.name, stores });
      } finally {
        db.close();
      }
    }
    return { databases, text };
  },
};

export type DevicePage = typeof api;

Object.assign(globalThis, { haleDevice: api });
