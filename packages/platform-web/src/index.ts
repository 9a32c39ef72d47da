// @hale/platform-web: what a browser (or Electron's renderer) gives @hale/client's openHale. Every browser
// API is passed in, typed structurally (idb-types.ts), so this package type-checks without the DOM lib
// and its pieces are testable on fake-indexeddb.
export { webPlatform, type WebPlatformOptions } from './web-platform';
export { idbVault, VaultUnavailableError, VaultWriteError, type IdbVaultOptions } from './idb-vault';
export { browserWebSocket, type BrowserSocketConstructor } from './web-socket';
export { webStorage } from './storage';
export { webDeviceLock, type WebLockManagerLike } from './web-lock';
export {
  startCryptoWorker,
  webWorkerOffload,
  type WebWorkerLike,
  type WorkerScopeLike,
} from './web-worker-offload';
export type {
  IdbDatabaseLike,
  IdbFactoryLike,
  IdbObjectStoreLike,
  IdbOpenRequestLike,
  IdbRequestLike,
  IdbTransactionLike,
} from './idb-types';
