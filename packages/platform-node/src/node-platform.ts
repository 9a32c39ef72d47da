/**
 * `nodePlatform()`: what a Node host gives `openHale`.
 *
 * | member | here |
 * |---|---|
 * | `fetch` | Node's global fetch |
 * | `createWebSocket` | `ws` |
 * | `storage` | RxDB's memory storage unless one is given (records live as long as the process) |
 * | `vault` | `fileVault(path)` when `vaultFile` is given, else a memory vault (nothing survives the process) |
 * | `cryptoOffload` | a worker thread per session when `cryptoWorker` is set |
 * | `ed25519` | node:crypto, verifying in libuv's threadpool (a device checks many at once: an audit log, a pull) |
 * | `x25519` | node:crypto (the same sealed boxes as tweetnacl's, several times faster) |
 * | `secretbox` | libsodium's WebAssembly build (tweetnacl's bytes, ≈3× faster), on the page and in the worker |
 * | `hashes` | node:crypto's SHA-256 / HMAC-SHA256 (@noble/hashes' outputs, 2–3× faster), on the page and in the worker |
 *
 * No device lock: a Node process opens a device once (a second open in the process is refused anyway).
 */
import WebSocket from 'ws';
import type { RxStorage } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  memoryVault,
  type Platform,
  type Vault,
  type WebSocketFactory,
  type WebSocketLike,
} from '@hale/client';
import { createNodeCryptoOffload } from '@hale/client/node';
import { loadSodiumSecretbox } from '@hale/crypto';
import { createNodeEd25519, createNodeHashes, createNodeX25519 } from '@hale/crypto/node';
import { fileVault } from './file-vault';

export interface NodePlatformOptions {
  /** The vault's file; without it (and without `vault`) the account lives in memory only. */
  readonly vaultFile?: string;
  readonly vault?: Vault;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly storage?: RxStorage<any, any>;
  /** Runs each session's bulk cryptography on a worker thread. */
  readonly cryptoWorker?: boolean;
}

/** `ws` sockets have the browser WebSocket's shape that `WebSocketLike` names. */
export const nodeWebSocket: WebSocketFactory = (url) => new WebSocket(url) as unknown as WebSocketLike;

export function nodePlatform(options: NodePlatformOptions = {}): Platform {
  const vault =
    options.vault ?? (options.vaultFile === undefined ? memoryVault() : fileVault(options.vaultFile));
  return {
    name: 'node',
    fetch: (url, init) => fetch(url, init),
    createWebSocket: nodeWebSocket,
    storage: options.storage ?? getRxStorageMemory(),
    vault,
    ed25519: async () => createNodeEd25519({ verify: 'threadpool' }),
    x25519: () => createNodeX25519(),
    secretbox: loadSodiumSecretbox,
    hashes: createNodeHashes,
    ...(options.cryptoWorker ? { cryptoOffload: () => createNodeCryptoOffload() } : {}),
  };
}
