// While a connection's socket holds more than the high-water mark, live delivery waits and looks at it
// again every 10 ms. Every commit on a stream the connection follows asks for a flush meanwhile; each such
// ask must not start a poll loop of its own, or a client that reads slowly (never slowly enough for the
// stall timeout) makes the server look at its socket once per commit per 10 ms for as long as it is slow.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChangesFrame, ServerFrame } from '@hale/protocol';
import { createNodeEd25519 } from '@hale/crypto/node';
import { openSqliteStore, type SqliteStore } from '../store/index';
import { createHub, type Hub, type LiveConnection } from './hub';
import { createSyncService } from './sync-service';

const PATIENT = 'P'.repeat(22);
const DEVICE = 'D'.repeat(22);
const STREAM = `${PATIENT}/allergy`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let nextDoc = 0;
const oneDoc = () => {
  const i = nextDoc++;
  const ct = new Uint8Array(64).fill(i % 251);
  return [
    {
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
    },
  ];
};

describe('live delivery waiting on a full socket', () => {
  let dir: string;
  let store: SqliteStore;
  let hub: Hub;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'hale-hub-poll-'));
    store = await openSqliteStore({ dataDir: dir });
  });
  afterEach(async () => {
    hub.stop();
    await hub.drain();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('looks at the socket once per 10 ms however many commits arrive meanwhile, then delivers them all', async () => {
    const service = createSyncService({
      store,
      now: Date.now,
      ed: createNodeEd25519(),
      server: { serverId: 'S'.repeat(22), publicKey: new Uint8Array(32), secretKey: new Uint8Array(64) },
    });
    hub = createHub({ store, service, now: Date.now, highWaterBytes: 1000 });
    let buffered = 0;
    let polls = 0;
    const sent: ServerFrame[] = [];
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
        return buffered;
      },
      close: () => undefined,
      terminate: () => undefined,
    };
    await hub.add(conn);
    expect(await hub.subscribe(conn, [{ stream: STREAM, since: 0 }])).toEqual({ ok: true });
    await store.docs.writeDocs(oneDoc(), new Date().toISOString());
    await sleep(30);
    const changes = () => sent.filter((f): f is ChangesFrame => f.t === 'changes');
    expect(changes()).toHaveLength(1);

    // The client falls behind (above the mark, well within the stall timeout) while 50 commits arrive.
    buffered = 5000;
    for (let i = 0; i < 50; i++) await store.docs.writeDocs(oneDoc(), new Date().toISOString());
    await sleep(30);
    polls = 0;
    await sleep(300);
    // One look per 10 ms is about 30 (timers may run late, never early); one loop per commit made ~1,500.
    expect(polls).toBeLessThanOrEqual(45);
    expect(changes()).toHaveLength(1);

    buffered = 0;
    const until = Date.now() + 3000;
    while (changes().flatMap((f) => f.docs).length < 51 && Date.now() < until) await sleep(20);
    expect(changes().flatMap((f) => f.docs.map((d) => d.seq))).toEqual(
      Array.from({ length: 51 }, (_, i) => i + 1),
    );
  });
});
