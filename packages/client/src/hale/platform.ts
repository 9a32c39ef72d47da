/**
 * What a host gives `openHale`: everything platform-specific, as one object. `@hale/platform-web`
 * (`webPlatform`) and `@hale/platform-node` (`nodePlatform`) build one; nothing in `@hale/client`
 * chooses a platform.
 *
 * | member | web | node |
 * |---|---|---|
 * | `fetch` | `window.fetch` | `globalThis.fetch` |
 * | `createWebSocket` | `WebSocket` | `ws` |
 * | `storage` | RxDB on IndexedDB (Dexie) | RxDB in memory |
 * | `vault` | IndexedDB, strict durability | a file, or memory |
 * | `deviceLock` | Web Locks (tabs of one origin) | none (one process) |
 * | `cryptoOffload` | a Web Worker | a worker thread |
 * | `ed25519` | WebCrypto, else tweetnacl | node:crypto |
 * | `x25519` | libsodium (WebAssembly) once loaded, else tweetnacl | node:crypto |
 * | `secretbox` | libsodium (WebAssembly), else tweetnacl | libsodium (WebAssembly) |
 * | `hashes` | @noble/hashes (WebCrypto's digest is asynchronous) | node:crypto |
 *
 * Invariants: `vault` has the account on disk before the write resolves (a join or unlock reports success
 * only then); `deviceLock` is required where two windows can open one device (browsers).
 */
import type { RxStorage } from 'rxdb';
import type { Ed25519, FastHashes, FastSecretbox, X25519 } from '@hale/crypto';
import type { Vault } from '../account/vault';
import type { FetchLike } from '../api/http-api';
import type { CryptoOffload } from '../offload/crypto-offload';
import type { DeviceLock } from '../store/device-lock';
import type { WebSocketFactory } from '../sync/connection';

/**
 * What a platform package injects: storage, WebSocket, fetch, vault, Ed25519, device lock and crypto offload.
 * - The client imports no Node, DOM or Electron API; everything platform-specific comes from here.
 */
export interface Platform {
  /** Shown in diagnostics: `web`, `node`, `electron`, … */
  readonly name: string;
  readonly fetch: FetchLike;
  readonly createWebSocket: WebSocketFactory;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly storage: RxStorage<any, any>;
  readonly vault: Vault;
  /** The device store's lock across tabs and processes; required in browsers. */
  readonly deviceLock?: DeviceLock;
  /** Bulk cryptography off the main thread, made once per session and closed with it. */
  readonly cryptoOffload?: () => CryptoOffload & {
    /** Stops the offload's workers; called once, when the session closes or fails to open. */
    close?: () => Promise<void> | void;
  };
  /** Open the many stored records a read returns in slices, other tasks between them (a page: no long task). */
  readonly slicedReads?: boolean;
  /** The fastest Ed25519 the host has; `chooseEd25519()` by default. */
  readonly ed25519?: () => Promise<Ed25519>;
  /** The host's X25519 for sealed boxes (the same boxes whichever), made once per `openHale`; tweetnacl by default. */
  readonly x25519?: () => X25519;
  /**
   * A faster secretbox with tweetnacl's bytes (`loadSodiumSecretbox`), installed for the page's thread by
   * `openHale` once it has loaded (not awaited; the crypto worker's entry installs its own); null or
   * absent: tweetnacl.
   */
  readonly secretbox?: () => Promise<FastSecretbox | null>;
  /**
   * A faster SHA-256 / HMAC-SHA256 with @noble/hashes' outputs (`createNodeHashes`), installed for the
   * page's thread by `openHale` (the crypto worker's entry installs its own); absent: @noble/hashes.
   */
  readonly hashes?: () => FastHashes;
}
