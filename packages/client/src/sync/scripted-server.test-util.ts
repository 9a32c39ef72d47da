// Shared by the engine's quarantine tests (engine-quarantine*.test.ts): a scripted server a provider
// device pulls a patient's streams from, the in-memory store those devices open and restart over, the
// teardown of what a test left running, and a wait for a condition.
import type { RxConflictHandler } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { PushFrame, ServedDoc, StreamAccess } from '@hale/protocol';
import { openDeviceDb, type DeviceDb, type DeviceRecord } from '../store/device-db';
import { recordConflictHandler } from '../records/conflicts';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection, RequestFrame } from './connection';
import { createSyncEngine, type EngineDeps, type SyncEngine } from './engine';
import type { Keyring } from './keyring';
import { deviceKey, ed, keyringFor, patient, patientDevice, patientRoot } from './codec-fixture.test-util';

const AT = '2026-01-01T00:00:00.000Z';

/**
 * A scripted server holding `streams` of the fixture patient, granted to the device until `end()`; keeps
 * the last version per id, numbered as it stores them, and pages pulls by their `limit`.
 */
export const scriptedServer = (streams: readonly string[]) => {
  const docs: ServedDoc[] = [];
  let head = 0;
  let granted = true;
  /** The `since` of every cursor of every pull, in order. */
  const pulls: number[] = [];
  /** Pulls from before the head since the `from`th (the normal pull starts from the stored position). */
  const fetchedAgain = (from: number) => pulls.slice(from).filter((since) => since < head);
  /** Stores `doc` (again) as the newest of its stream: a version served again comes at a new seq. */
  const serve = (doc: Omit<ServedDoc, 'seq' | 'at'>): ServedDoc => {
    const { seq: _seq, at: _at, ...version } = doc as ServedDoc;
    const served = { ...version, seq: ++head, at: AT };
    const at = docs.findIndex((d) => d.id === doc.id);
    if (at >= 0) docs.splice(at, 1);
    docs.push(served);
    return served;
  };
  const access = (stream: string): StreamAccess =>
    ({
      stream,
      patientId: patient.accountId,
      type: stream.split('/')[1],
      access: 'read',
      head,
      epoch: 0,
    }) as StreamAccess;
  const connection = {
    // One `streams` page is the list. Never `ready`: no signed heads are exchanged.
    status: (): string => 'connecting',
    version: (): number => 1,
    async request(frame: RequestFrame): Promise<unknown> {
      if (frame.t === 'listStreams')
        return { t: 'streams', rid: 1, streams: granted ? streams.map(access) : [] };
      if (frame.t === 'subscribe') return { t: 'ok', rid: 1 };
      if (frame.t === 'getEnvelopes') return { t: 'envelopes', rid: 1, envelopes: [] };
      if (frame.t !== 'pull') throw new Error(`unexpected ${frame.t}`);
      let budget = frame.limit;
      const out: ServedDoc[] = [];
      const pulled = frame.streams.map(({ stream, since }) => {
        pulls.push(since);
        const after = docs.filter((d) => d.stream === stream && d.seq > since).sort((a, b) => a.seq - b.seq);
        const page = after.slice(0, Math.max(0, budget));
        budget -= page.length;
        out.push(...page);
        return { stream, checkpoint: page.at(-1)?.seq ?? since, done: page.length === after.length };
      });
      return { t: 'pulled', rid: 1, docs: out, streams: pulled, denied: [] };
    },
  } as unknown as Connection;
  /** Access to the streams ends: they are listed no more (the engine is told by an `accessChanged` frame). */
  const end = (): void => {
    granted = false;
  };
  return { docs, pulls, fetchedAgain, serve, connection, end, head: () => head };
};

export const until = async (check: () => boolean | Promise<boolean>, what: string): Promise<void> => {
  const end = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** Settles what a retry started after the page that made the device online (it runs a macrotask later). */
export const settled = async (engine: SyncEngine): Promise<void> => {
  await engine.awaitInSync();
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
};

/** The memory storage the devices of a test file open their stores in (a test may read what it holds). */
export const storage = getRxStorageMemory();

/** The store `name` in `storage`: opened again under the same name, it is the store a restart finds. */
export const openTestDb = (name: string): Promise<DeviceDb> =>
  openDeviceDb({
    name,
    storage,
    atRestKey: new Uint8Array(32).fill(7),
    conflictHandler: recordConflictHandler as unknown as RxConflictHandler<DeviceRecord>,
  });

/** The engines and stores running now: a device adds each it starts and takes out each it stops. */
export const opened: Array<{ engine: SyncEngine; db: DeviceDb }> = [];

/** Stops the engine of `d` and closes its store (a device stopping, or its app quitting). */
export const stopAndClose = async (d: { engine: SyncEngine; db: DeviceDb }): Promise<void> => {
  const at = opened.indexOf(d);
  if (at >= 0) opened.splice(at, 1);
  await d.engine.stop();
  await d.db.close();
};

/** Stops and closes what a test left running; call from `afterEach`. */
export const closeOpened = async (): Promise<void> => {
  for (const d of opened.splice(0)) await stopAndClose(d);
};

/**
 * An engine of the fixture patient's device over `db` and `connection` (not started), listed in `opened`.
 * Its metadata lives in `raw`, so an engine opened again over the same map is the device restarted.
 */
export const patientEngine = (opts: {
  db: DeviceDb;
  connection: Connection;
  replicationId: string;
  raw: Map<string, unknown>;
  keyring?: Keyring;
  now?: () => number;
  busyRetry?: EngineDeps['busyRetry'];
}): SyncEngine => {
  const { db, raw } = opts;
  const engine = createSyncEngine({
    collection: db.records,
    connection: opts.connection,
    keyring: opts.keyring ?? keyringFor(patient, patientRoot, patientDevice),
    ed,
    accountId: patient.accountId,
    device: { deviceId: patientDevice.deviceId, secretKey: patientDevice.secretKey },
    lookupDeviceKey: async (account, dev) => {
      const key = await deviceKey(account, dev);
      return key ? { status: 'found', key } : { status: 'unknown' };
    },
    now: opts.now ?? (() => Date.now()),
    ...(opts.busyRetry === undefined ? {} : { busyRetry: opts.busyRetry }),
    replicationId: opts.replicationId,
    meta: createDeviceMeta({
      read: async (key) => structuredClone(raw.get(key)),
      write: async (key, value) => {
        raw.set(key, structuredClone(value));
      },
    }),
  });
  opened.push({ engine, db });
  return engine;
};

/**
 * A connection for an engine of the fixture patient that owns `stream` (listed at `head()`, `epoch`): it
 * subscribes, gives no envelopes, answers every pull empty and drained, and hands each push to `push`.
 */
export const ownStreamConnection = (opts: {
  stream: string;
  epoch: number;
  head?: () => number;
  push: (frame: PushFrame) => unknown;
}): Connection =>
  ({
    status: (): string => 'ready',
    version: (): number => 1,
    async request(frame: RequestFrame): Promise<unknown> {
      if (frame.t === 'listStreams') {
        const access = {
          stream: opts.stream,
          patientId: patient.accountId,
          type: opts.stream.slice(opts.stream.indexOf('/') + 1),
          access: 'owner',
          head: opts.head?.() ?? 0,
          epoch: opts.epoch,
        };
        return { t: 'streams', rid: 1, streams: [access as StreamAccess] };
      }
      if (frame.t === 'subscribe') return { t: 'ok', rid: 1 };
      if (frame.t === 'getEnvelopes') return { t: 'envelopes', rid: 1, envelopes: [] };
      if (frame.t === 'push') return opts.push(frame as PushFrame);
      if (frame.t !== 'pull') throw new Error(`unexpected ${frame.t}`);
      return {
        t: 'pulled',
        rid: 1,
        docs: [],
        streams: frame.streams.map(({ stream, since }) => ({ stream, checkpoint: since, done: true })),
        denied: [],
      };
    },
  }) as unknown as Connection;
