// The hub stops serving a connection it closes at the moment it closes it, not when the owner's socket
// finally reports the close: after `closeDevice` (a device revocation), and when the connection's client
// has taken none of its buffered live changes for `sendStallTimeoutMs` (instead of being polled for ever;
// then dropped with `terminate`, since a close frame would wait behind what the client does not read).
// The connections here never report a close, as a socket whose client does not answer the handshake.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangesFrame, ServerFrame } from '@hale/protocol';
import { openSqliteStore, type SqliteStore } from '../store/index';
import { createHub, type HubOptions, type LiveConnection } from './hub';
import { createSyncService } from './sync-service';
import { createNodeEd25519 } from '@hale/crypto/node';

const PATIENT = 'P'.repeat(22);
const DEVICE = 'D'.repeat(22);
const STREAM = `${PATIENT}/allergy`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let nextDoc = 0;
const docs = (n: number) =>
  Array.from({ length: n }, () => {
    const i = nextDoc++;
    const ct = new Uint8Array(256).fill(i % 251);
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

describe('the hub stops a connection as it closes it', () => {
  let dir: string;
  let store: SqliteStore;
  let hub: ReturnType<typeof createHub>;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hale-hub-close-'));
    store = await openSqliteStore({ dataDir: dir });
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const start = (options: Partial<HubOptions> = {}) => {
    const service = createSyncService({
      store,
      now: Date.now,
      ed: createNodeEd25519(),
      server: { serverId: 'S'.repeat(22), publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
    });
    const delivered = { docs: 0 };
    hub = createHub({ store, service, now: Date.now, onDelivered: (n) => (delivered.docs += n), ...options });
    return delivered;
  };

  /** A connection of the patient's device; `buffered` says what its socket holds unread. */
  const connection = (buffered: () => number = () => 0) => {
    const sent: ServerFrame[] = [];
    const closes: Array<{ code: number; reason: string }> = [];
    const terminated: string[] = [];
    let polls = 0;
    const conn: LiveConnection = {
      id: 1,
      principal: {
        accountId: PATIENT,
        deviceId: DEVICE,
        role: 'patient',
        devicePublicKey: new Uint8Array(32),
      },
      send: (f) => void sent.push(f),
      sendEncoded: (text) => void sent.push(JSON.parse(text) as ServerFrame),
      bufferedAmount: () => {
        polls++;
        return buffered();
      },
      // Like a socket whose close handshake never completes: the hub is not told it closed.
      close: (code, reason) => void closes.push({ code, reason }),
      terminate: (reason) => void terminated.push(reason),
    };
    const changes = () => sent.filter((f): f is ChangesFrame => f.t === 'changes');
    return { conn, changes, closes, terminated, polls: () => polls };
  };

  it('delivers nothing more to a device it closed with closeDevice', async () => {
    const delivered = start();
    const c = connection();
    await hub.add(c.conn);
    expect(await hub.subscribe(c.conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await store.docs.writeDocs(docs(3), new Date().toISOString());
    await sleep(50);
    expect(c.changes()).toHaveLength(1);
    expect(delivered.docs).toBe(3);

    expect(hub.closeDevice(DEVICE, 'device revoked')).toBe(1);
    expect(c.closes).toEqual([{ code: 4001, reason: 'device revoked' }]);
    expect(c.terminated).toEqual([]);
    await store.docs.writeDocs(docs(2), new Date().toISOString());
    await sleep(50);
    expect(c.changes()).toHaveLength(1);
    expect(delivered.docs).toBe(3);
  });

  it('drops a connection whose client takes nothing for sendStallTimeoutMs, and stops polling it', async () => {
    start({ highWaterBytes: 1000, sendStallTimeoutMs: 200 });
    let buffered = 0;
    const c = connection(() => buffered);
    await hub.add(c.conn);
    expect(await hub.subscribe(c.conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await store.docs.writeDocs(docs(1), new Date().toISOString());
    await sleep(30);
    expect(c.changes()).toHaveLength(1);
    buffered = 5000; // the client reads none of it
    await store.docs.writeDocs(docs(1), new Date().toISOString());
    const deadline = Date.now() + 3000;
    while (c.closes.length + c.terminated.length === 0 && Date.now() < deadline) await sleep(20);
    // At once, without a close handshake: a close frame would queue behind what the client does not read.
    expect(c.terminated).toEqual([expect.stringContaining('reconnect') as unknown]);
    expect(c.closes).toEqual([]);
    const polled = c.polls();
    await sleep(100);
    expect(c.polls()).toBe(polled);
    expect(c.changes()).toHaveLength(1);
  });

  it('keeps a connection whose client drains, however slowly', async () => {
    start({ highWaterBytes: 1000, sendStallTimeoutMs: 200 });
    let buffered = 0;
    const c = connection(() => (buffered > 1000 ? buffered-- : buffered));
    await hub.add(c.conn);
    expect(await hub.subscribe(c.conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await store.docs.writeDocs(docs(1), new Date().toISOString());
    await sleep(30);
    buffered = 1_000_000; // taken one byte per look: never under the mark within the test
    await store.docs.writeDocs(docs(1), new Date().toISOString());
    await sleep(800);
    expect(c.closes).toEqual([]);
    expect(c.terminated).toEqual([]);
    expect(c.polls()).toBeGreaterThan(10);
  });
});
