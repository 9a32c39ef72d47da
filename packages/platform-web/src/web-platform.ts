/**
 * `webPlatform(...)`: what a browser page (or Electron's renderer) gives `openHale`. Every browser API is
 * passed in (`webPlatform({ indexedDB, WebSocket, fetch, locks: navigator.locks })`), so this package
 * type-checks without the DOM lib.
 *
 * | member | here |
 * |---|---|
 * | `storage` | RxDB on IndexedDB through Dexie (records sealed before they are stored) |
 * | `vault` | IndexedDB, each write committed with strict durability before it resolves |
 * | `deviceLock` | Web Locks: one tab of an origin holds a device at a time |
 * | `createWebSocket` | the browser's WebSocket, text frames only |
 * | `cryptoOffload` | a Web Worker per session, when `worker` is given |
 * | `slicedReads` | yes: a read of thousands of records is no long task |
 * | `ed25519` | WebCrypto where the browser has it, else tweetnacl (`chooseEd25519`) |
 * | `secretbox` | libsodium's WebAssembly build where it loads, else tweetnacl (the same bytes) |
 * | `x25519` | tweetnacl until libsodium's WebAssembly build loaded, then it (the same outputs) |
 */
import type { FetchLike, Platform } from '@hale/client';
import { lateX25519, loadSodiumSecretbox, loadSodiumX25519 } from '@hale/crypto';
import { idbVault } from './idb-vault';
import type { IdbFactoryLike } from './idb-types';
import { webStorage } from './storage';
import { browserWebSocket, type BrowserSocketConstructor } from './web-socket';
import { webDeviceLock, type WebLockManagerLike } from './web-lock';
import { webWorkerOffload, type WebWorkerLike } from './web-worker-offload';

export interface WebPlatformOptions {
  readonly indexedDB: IdbFactoryLike;
  readonly WebSocket: BrowserSocketConstructor;
  readonly fetch: FetchLike;
  /** `navigator.locks`. */
  readonly locks: WebLockManagerLike;
  /** Starts the crypto worker (`() => new Worker(url, { type: 'module' })`); without it, crypto runs on the page. */
  readonly worker?: () => WebWorkerLike;
  /** The vault's IndexedDB database name (one per origin by default). */
  readonly vaultName?: string;
}

export function webPlatform(options: WebPlatformOptions): Platform {
  const worker = options.worker;
  return {
    name: 'web',
    fetch: options.fetch,
    createWebSocket: browserWebSocket(options.WebSocket),
    storage: webStorage(),
    slicedReads: true,
    vault: idbVault({
      indexedDB: options.indexedDB,
      ...(options.vaultName === undefined ? {} : { name: options.vaultName }),
    }),
    deviceLock: webDeviceLock(options.locks),
    secretbox: loadSodiumSecretbox,
    x25519: () => lateX25519(loadSodiumX25519),
    ...(worker ? { cryptoOffload: () => webWorkerOffload(worker) } : {}),
  };
}
