import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangesFrame, ServerFrame } from '@hale/protocol';
import { openSqliteStore, type SqliteStore } from '../store/index';
import { createHub, type LiveConnection } from './hub';
import { createSyncService } from './sync-service';
import { createNodeEd25519 } from '@hale/crypto/node';

const PATIENT = 'P'.repeat(22);
const DEVICE = 'D'.repeat(22);
const STREAM = `${PATIENT}/allergy`;

const docs = (from: number, n: number) =>
  Array.from({ length: n }, (_, i) => {
    const ct = new Uint8Array(1024).fill((from + i) % 251);
    return {
      doc: {
        stream: STREAM,
        id: `01J${String(from + i).padStart(23, '0')}`,
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

describe('live delivery backpressure', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hale-hub-'));
    store = await openSqliteStore({ dataDir: dir });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds delivery while the socket buffer is above the mark, then catches up in order without loss or duplicates', async () => {
    const service = createSyncService({
      store,
      now: Date.now,
      ed: createNodeEd25519(),
      server: { serverId: 'S'.repeat(22), publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
    });
    const hub = createHub({ store, service, now: Date.now, highWaterBytes: 1000 });
    let buffered = 0;
    const sent: ServerFrame[] = [];
    const conn: LiveConnection = {
      id: 1,
      principal: {
        accountId: PATIENT,
        deviceId: DEVICE,
        role: 'patient',
        devicePublicKey: new Uint8Array(32),
      },
      send: (f) => sent.push(f),
      sendEncoded: (text) => {
        sent.push(JSON.parse(text) as ServerFrame);
        buffered += text.length; // the socket cannot drain: the client is slow
      },
      bufferedAmount: () => buffered,
      close: () => undefined,
      terminate: () => undefined,
    };
    await hub.add(conn);
    expect(await hub.subscribe(conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await store.docs.writeDocs(docs(0, 1500), new Date().toISOString());
    await new Promise((r) => setTimeout(r, 100));
    const changes = () => sent.filter((f): f is ChangesFrame => f.t === 'changes');
    // One page went out, then the buffer stayed above the mark: nothing more is queued in memory.
    expect(changes()).toHaveLength(1);
    const firstPage = changes()[0]!.docs.length;
    expect(firstPage).toBeLessThan(1500);
    await store.docs.writeDocs(docs(1500, 10), new Date().toISOString());
    await new Promise((r) => setTimeout(r, 100));
    expect(changes()).toHaveLength(1);

    buffered = 0; // the client drained its socket
    const until = Date.now() + 5000;
    while (changes().flatMap((f) => f.docs).length < 1510 && Date.now() < until) {
      buffered = 0;
      await new Promise((r) => setTimeout(r, 20));
    }
    const seqs = changes().flatMap((f) => f.docs.map((d) => d.seq));
    expect(seqs).toEqual(Array.from({ length: 1510 }, (_, i) => i + 1));
    hub.stop();
  });
});
