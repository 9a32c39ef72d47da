import { afterEach, describe, expect, it } from 'vitest';
import { prepareQuery, type RxConflictHandler, type RxStorage, type RxStorageInstance } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { ServedDoc, StreamAccess } from '@hale/protocol';
import { openDeviceDb, type DeviceDb, type DeviceRecord } from '../store/device-db';
import { createDeviceMeta } from '../store/device-meta';
import { recordConflictHandler } from '../records/conflicts';
import type { Connection, RequestFrame } from './connection';
import { createSyncEngine, type RemovedStream, type SyncEngine } from './engine';
import {
  dataOf,
  deviceKey,
  ed,
  keyringFor,
  patient,
  patientDeps,
  provider,
  providerDevice,
  providerRoot,
  record,
  servedRecord,
  signedEnvelope,
} from './codec-fixture.test-util';

// Access to a stream ends while versions of it are on their way into the store: gathered by a pull call
// still fetching pages, or handed to RxDB and not stored by it yet (a pull page or a live frame). Once the
// purge is done, no record of the stream may stay in the store. A scripted server and a memory storage
// that can hold RxDB's next write of served versions drive the races.

const STREAM = `${patient.accountId}/allergy`;
/** A stream of the same patient whose access goes on. */
const OTHER = `${patient.accountId}/medication`;
const idOf = (n: number) => `01J2000000000000000000${String(n).padStart(4, '0')}`;

const until = async (check: () => boolean | Promise<boolean>, what: string): Promise<void> => {
  const end = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};
const settle = (ms = 300): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The allergy `n` (or, in OTHER, the medication `n`) as the server serves it at `seq`. */
const served = async (n: number, seq = n, stream = STREAM): Promise<ServedDoc> => {
  const id = idOf(stream === STREAM ? n : 1000 + n);
  const kind = stream === STREAM ? 'Allergy' : 'Medication';
  const doc = await servedRecord(record({ id, stream, kind, data: dataOf(kind, id, patient.accountId) }));
  return { ...doc, seq };
};
const allergy = (n: number): Promise<ServedDoc> => served(n);

/**
 * A server holding the patient's allergy stream (and OTHER, when it holds documents of it), readable by
 * the provider until `revoke()` ends access to the allergies; each stream's page holds at most `pageSize`
 * documents, a pull at most its limit. `holdPull(k)` holds the k-th pull's answer until `releasePull()`.
 */
const scriptedServer = (docs: ServedDoc[], pageSize: number) => {
  let revoked = false;
  let pulls = 0;
  let heldAt = 0;
  let openPull = (): void => undefined;
  const pullGate = new Promise<void>((r) => (openPull = r));
  const streams = [STREAM, ...(docs.some((d) => d.stream === OTHER) ? [OTHER] : [])];
  const envelopes = Promise.all(
    streams.map(async (s) => signedEnvelope(s, 0, (await patientDeps.keyring.keyFor(s, 0))!, provider)),
  );
  const access = (stream: string): StreamAccess => ({
    stream: stream as StreamAccess['stream'],
    patientId: patient.accountId,
    type: stream === STREAM ? 'allergy' : 'medication',
    access: 'read',
    head: Math.max(0, ...docs.filter((d) => d.stream === stream).map((d) => d.seq)),
    epoch: 0,
  });
  const connection = {
    version: (): number => 1,
    status: (): string => 'ready',
    async request(frame: RequestFrame): Promise<unknown> {
      if (frame.t === 'listStreams') {
        return { t: 'streams', rid: 1, streams: streams.filter((s) => !revoked || s !== STREAM).map(access) };
      }
      if (frame.t === 'subscribe') return { t: 'ok', rid: 1 };
      if (frame.t === 'getEnvelopes') return { t: 'envelopes', rid: 1, envelopes: await envelopes };
      if (frame.t !== 'pull') throw new Error(`unexpected ${frame.t}`);
      pulls++;
      if (pulls === heldAt) await pullGate;
      let budget = frame.limit;
      const out: ServedDoc[] = [];
      const answered = frame.streams.map(({ stream, since }) => {
        const after = docs.filter((d) => d.stream === stream && d.seq > since).sort((a, b) => a.seq - b.seq);
        const page = after.slice(0, Math.max(0, Math.min(pageSize, budget)));
        budget -= page.length;
        out.push(...page);
        return { stream, checkpoint: page.at(-1)?.seq ?? since, done: page.length === after.length };
      });
      return { t: 'pulled', rid: 1, docs: out, streams: answered, denied: [] };
    },
  } as unknown as Connection;
  return {
    connection,
    envelopes,
    pulls: (): number => pulls,
    holdPull: (k: number): void => void (heldAt = k),
    releasePull: (): void => openPull(),
    revoke: (): void => void (revoked = true),
  };
};

/** A memory storage whose `records` instance can hold RxDB's next write of served versions. */
const gatedStorage = () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const inner: RxStorage<any, any> = getRxStorageMemory();
  let armed = false;
  let held = false;
  let open = (): void => undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wrap = (instance: RxStorageInstance<any, any, any>) =>
    new Proxy(instance, {
      get(target, prop, receiver) {
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        const fn = value as (...a: unknown[]) => Promise<unknown>;
        if (prop !== 'bulkWrite') return fn.bind(target);
        return async (rows: unknown, context: string) => {
          if (armed && context.startsWith('replication-downstream-')) {
            armed = false;
            held = true;
            await new Promise<void>((resolve) => (open = resolve));
          }
          return fn.call(target, rows, context);
        };
      },
    });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const storage: RxStorage<any, any> = {
    ...inner,
    name: inner.name,
    rxdbVersion: inner.rxdbVersion,
    async createStorageInstance(params) {
      const instance = await inner.createStorageInstance(params);
      return params.collectionName === 'records' ? wrap(instance) : instance;
    },
  };
  return {
    storage,
    holdNextDownstream: (): void => void (armed = true),
    holding: (): boolean => held,
    release: (): void => {
      held = false;
      open();
    },
  };
};

let dbCount = 0;
const open: Array<{ engine: SyncEngine; db: DeviceDb }> = [];
afterEach(async () => {
  for (const d of open.splice(0)) {
    await d.engine.stop();
    await d.db.close();
  }
});

/** The provider's device over `server`, started and connected (not waited for). */
const device = async (
  server: ReturnType<typeof scriptedServer>,
  gate: ReturnType<typeof gatedStorage>,
  batchSize?: number,
) => {
  const name = `purgerace${++dbCount}`;
  const raw = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => void raw.set(key, structuredClone(value)),
  });
  const db = await openDeviceDb({
    name,
    storage: gate.storage,
    atRestKey: new Uint8Array(32).fill(7),
    conflictHandler: recordConflictHandler as unknown as RxConflictHandler<DeviceRecord>,
  });
  const purges: RemovedStream[] = [];
  const engine = createSyncEngine({
    collection: db.records,
    connection: server.connection,
    keyring: keyringFor(provider, providerRoot, providerDevice, await server.envelopes),
    ed,
    accountId: provider.accountId,
    device: { deviceId: providerDevice.deviceId, secretKey: providerDevice.secretKey },
    lookupDeviceKey: async (account, dev) => {
      const key = await deviceKey(account, dev);
      return key ? { status: 'found', key } : { status: 'unknown' };
    },
    now: () => Date.now(),
    replicationId: `purge-race-${name}`,
    meta,
    onPurged: (removed) => void purges.push(removed),
    ...(batchSize === undefined ? {} : { batchSize }),
  });
  open.push({ engine, db });
  /** Ids of versions of STREAM with content stored after the first purge (RxDB's writes included). */
  const storedAfterPurge = new Set<string>();
  db.records.$.subscribe((ev) => {
    const doc = ev.documentData;
    if (purges.length > 0 && doc.stream === STREAM && Object.keys(doc.data).length > 0) {
      storedAfterPurge.add(doc.id);
    }
  });
  /** Ids of the documents of `stream` in the store that still hold content, deleted ones included. */
  const withContent = async (stream = STREAM): Promise<string[]> => {
    const storage = db.records.storageInstance;
    const { documents } = await storage.query(
      prepareQuery<DeviceRecord>(storage.schema, {
        selector: { stream },
        sort: [{ id: 'asc' }],
        skip: 0,
      }),
    );
    return documents.filter((d) => Object.keys(d.data).length > 0).map((d) => d.id);
  };
  await engine.start();
  engine.onStatus('ready');
  void engine.onReady();
  const revoke = (): void => {
    server.revoke();
    engine.onFrame({
      t: 'accessChanged',
      streams: [],
      removed: [{ stream: STREAM, reason: 'revoked' }],
    } as never);
  };
  return { engine, db, purges, storedAfterPurge, withContent, revoke };
};

describe('access ends while versions of the stream are on their way into the store', () => {
  it('records a pull call gathered before access ended are not handed over with its later pages', async () => {
    const docs = [await allergy(1), await allergy(2), await allergy(3), await allergy(4)];
    const server = scriptedServer(docs, 2);
    const gate = gatedStorage();
    // The second page of the first pull is in flight when access ends; the first is gathered.
    server.holdPull(2);
    const d = await device(server, gate);
    await until(() => server.pulls() === 2, 'the second page is asked for');
    d.revoke();
    await until(() => d.purges.length > 0, 'the stream is purged');
    server.releasePull();
    await settle();

    expect(d.engine.readable(STREAM)).toBe(false);
    expect([...d.storedAfterPurge]).toEqual([]);
    expect(await d.withContent()).toEqual([]);
    // Nothing of the stream is left to end again: the list of streams read at a reconnect ends nothing more.
    d.engine.onStatus('offline');
    d.engine.onStatus('ready');
    await d.engine.onReady();
    await settle();
    expect(await d.withContent()).toEqual([]);
    expect(d.purges).toHaveLength(1);
  });

  it('the other streams still catch up when access ends to one whose records filled the batch', async () => {
    // Batches of 3, pages of one document per stream. The first page brings allergy 1 and medication 1;
    // access to the allergies ends while the second is fetched; the third brings medication 2, which
    // fills the batch only with allergy 1 counted. Without it the batch is short, and a short batch
    // would end RxDB's pass with medications 3 to 5 not fetched.
    const docs = [await allergy(1), await allergy(2)];
    for (let n = 1; n <= 5; n++) docs.push(await served(n, n, OTHER));
    const server = scriptedServer(docs, 1);
    const gate = gatedStorage();
    server.holdPull(2);
    const d = await device(server, gate, 3);
    await until(() => server.pulls() === 2, 'the second page is asked for');
    d.revoke();
    await until(() => d.purges.length > 0, 'the stream is purged');
    server.releasePull();

    await until(() => d.engine.state().status === 'online', 'caught up');
    await until(async () => (await d.withContent(OTHER)).length === 5, 'every medication stored');
    expect(await d.withContent()).toEqual([]);
    expect([...d.storedAfterPurge]).toEqual([]);
  });

  it('a pull batch handed over before access ended that RxDB stores after the purge is removed again', async () => {
    const docs = [await allergy(1), await allergy(2), await allergy(3), await allergy(4)];
    const server = scriptedServer(docs, 2);
    const gate = gatedStorage();
    // RxDB's write of the first pull's batch is held until the purge is done.
    gate.holdNextDownstream();
    const d = await device(server, gate);
    await until(() => gate.holding(), 'RxDB is writing the batch');
    d.revoke();
    await until(() => d.purges.length > 0, 'the stream is purged');
    expect(d.purges[0]).toEqual({ stream: STREAM, reason: 'revoked' });
    // RxDB's write was under way before the purge: the batch is stored, then removed again.
    gate.release();

    await until(async () => (await d.withContent()).length === 0, 'nothing of the stream left');
    await settle();
    expect(await d.withContent()).toEqual([]);
    expect(await d.db.records.find({ selector: { stream: STREAM } }).exec()).toEqual([]);
    expect(d.purges).toHaveLength(1);
  });

  it('a live frame handed over before access ended is removed once stored; one after it is not applied', async () => {
    const docs = [await allergy(1), await allergy(2)];
    const server = scriptedServer(docs, 2);
    const gate = gatedStorage();
    const d = await device(server, gate);
    await until(() => d.engine.state().status === 'online', 'online');
    await until(async () => (await d.withContent()).length === 2, 'the stream is stored');

    const third = await allergy(3);
    const fourth = await allergy(4);
    gate.holdNextDownstream();
    d.engine.onFrame({ t: 'changes', docs: [third], streams: [{ stream: STREAM, checkpoint: 3 }] } as never);
    await until(() => gate.holding(), 'RxDB is writing the live frame');
    d.revoke();
    // Decoded after access ended: applied in order after the purge, so not at all.
    d.engine.onFrame({ t: 'changes', docs: [fourth], streams: [{ stream: STREAM, checkpoint: 4 }] } as never);
    await until(() => d.purges.length > 0, 'the stream is purged');
    gate.release();

    await until(async () => (await d.withContent()).length === 0, 'nothing of the stream left');
    await settle();
    expect(await d.withContent()).toEqual([]);
    expect(d.storedAfterPurge.has(fourth.id)).toBe(false);
    expect(d.purges).toHaveLength(1);
  });

  it('versions pulled here, emptied and deleted by the purge, never count as pending writes', async () => {
    const docs = [await allergy(1), await allergy(2)];
    const server = scriptedServer(docs, 2);
    const d = await device(server, gatedStorage());
    await until(() => d.engine.state().status === 'online', 'online');
    await until(async () => (await d.withContent()).length === 2, 'the stream is stored');
    const counted: number[] = [];
    const watch = d.engine.state$.subscribe((s) => counted.push(s.pendingWrites));

    d.revoke();
    await until(() => d.purges.length > 0, 'the stream is purged');
    await until(async () => (await d.withContent()).length === 0, 'nothing of the stream left');
    await settle();
    watch.unsubscribe();
    // The purge's emptied versions reach RxDB's push handler (never sent), but no change of this device's
    // was ever pending.
    expect(Math.max(...counted)).toBe(0);
  });
});
