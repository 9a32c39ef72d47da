// Hub tests that drive a hub of their own over a fresh store, with a connection standing in for a socket:
// what it sent, how it was closed or dropped, how often the hub looked at its send buffer. Its close
// never reaches the hub, as a socket whose client does not answer the close handshake.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChangesFrame, ServerFrame } from '@hale/protocol';
import { createNodeEd25519 } from '@hale/crypto/node';
import { openSqliteStore, type DocWrite, type SqliteStore } from '../store/index';
import { createHub, type Hub, type HubOptions, type LiveConnection } from './hub';
import { createSyncService, type SyncService } from './sync-service';

export const PATIENT = 'P'.repeat(22);
export const DEVICE = 'D'.repeat(22);
export const STREAM = `${PATIENT}/allergy`;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let nextDoc = 0;
/** `n` new documents of STREAM by DEVICE, each with `ctBytes` of ciphertext, for `store.docs.writeDocs`. */
export const newDocs = (n: number, ctBytes = 256): DocWrite[] =>
  Array.from({ length: n }, () => {
    const i = nextDoc++;
    const ct = new Uint8Array(ctBytes).fill(i % 251);
    return {
      doc: {
        stream: STREAM,
        id: `01J${String(i).padStart(23, '0')}`,
        rev: `1-${'a'.repeat(24)}`,
        deleted: false,
        epoch: 0,
        ct,
        size: ct.length,
        author: DEVICE,
      },
      assumedRev: null,
    };
  });

/** A fresh store in a temporary directory; `start` builds the hub over it, `close` ends both. */
export const hubOverStore = async (prefix: string) => {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const store: SqliteStore = await openSqliteStore({ dataDir: dir });
  let hub: Hub | undefined;
  return {
    store,
    /**
     * The hub (options over a sync service of the store and the real clock, as `wrapService` changes it);
     * `delivered` counts the documents it delivered.
     */
    start(options: Partial<HubOptions> = {}, wrapService: (service: SyncService) => SyncService = (s) => s) {
      const service = wrapService(
        createSyncService({
          store,
          now: Date.now,
          ed: createNodeEd25519(),
          server: { serverId: 'S'.repeat(22), publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
        }),
      );
      const delivered = { docs: 0 };
      const started = createHub({
        store,
        service,
        now: Date.now,
        onDelivered: (n) => (delivered.docs += n),
        ...options,
      });
      hub = started;
      return { hub: started, delivered };
    },
    async close() {
      hub?.stop();
      await hub?.drain();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

/** A connection of the patient's device; `buffered` says what its socket holds unread. */
export const probedConnection = (buffered: () => number = () => 0) => {
  const sent: ServerFrame[] = [];
  const closes: Array<{ code: number; reason: string }> = [];
  const terminated: string[] = [];
  let polls = 0;
  const conn: LiveConnection = {
    id: 1,
    principal: { accountId: PATIENT, deviceId: DEVICE, role: 'patient', devicePublicKey: new Uint8Array(32) },
    send: (f) => void sent.push(f),
    sendEncoded: (text) => void sent.push(JSON.parse(text) as ServerFrame),
    bufferedAmount: () => {
      polls++;
      return buffered();
    },
    close: (code, reason) => void closes.push({ code, reason }),
    terminate: (reason) => void terminated.push(reason),
  };
  const changes = () => sent.filter((f): f is ChangesFrame => f.t === 'changes');
  return { conn, sent, changes, closes, terminated, polls: () => polls };
};
