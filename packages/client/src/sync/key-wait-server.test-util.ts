// Shared by the key-wait tests (engine-key-wait*.test.ts): a scripted server holding the fixture
// patient's OPEN stream (epoch 0, its key derived here) and LOCKED stream (re-keyed to epoch 1, whose key
// has not reached the device), the patient's device over it, and the records and frames the cases use.
import {
  parseRevTag,
  type KeyEnvelope,
  type PushFrame,
  type PushResult,
  type ReadyFrame,
  type ServedDoc,
  type StreamAccess,
} from '@hale/protocol';
import { randomBytes } from '@hale/crypto';
import { createDeviceMeta } from '../store/device-meta';
import {
  dataOf,
  deviceKey,
  ed,
  keyringFor,
  patient,
  patientDevice,
  patientRoot,
  record,
  signedEnvelope,
} from './codec-fixture.test-util';
import type { SyncError, Connection, RequestFrame } from './connection';
import { createSyncEngine, type SyncEngine } from './engine';
import type { PlainRecord } from '../records/plain-record';
import { openTestDb, opened } from './scripted-server.test-util';

/** Readable and writable with the account's derived key (epoch 0). */
export const OPEN = `${patient.accountId}/allergy`;
/** Re-keyed to epoch 1, whose key has not reached this device. */
export const LOCKED = `${patient.accountId}/medication`;
const AT = '2026-01-01T00:00:00.000Z';
export const idIn = (stream: string, n: number) =>
  `01J6000000000000000000${stream === OPEN ? 'A' : 'B'}${String(n).padStart(3, '0')}`;

export const readyFrame = (incarnation: string): ReadyFrame =>
  ({
    t: 'ready',
    accountId: patient.accountId,
    deviceId: patientDevice.deviceId,
    version: 1,
    sessionExpiresAt: '2099-01-01T00:00:00.000Z',
    incarnation,
  }) as unknown as ReadyFrame;

export type PushHook = (push: PushFrame, answer: () => unknown) => Promise<unknown> | undefined;

/**
 * The scripted server (OPEN at epoch 0, LOCKED at epoch 1): it stores a pushed version built on the one it
 * holds (or a creation of a record it lacks), answers the version it holds for any other, and serves what it
 * holds by position; with a hook that
 * may intercept a push (`onPush`: answer it otherwise, lose its reply, hold it), a connection failure for
 * a fatal status, and an incarnation.
 */
export const keyWaitServer = () => {
  const docs = new Map<string, ServedDoc>();
  let head = 0;
  const pushes: PushFrame[] = [];
  const hooks: { onPush: PushHook | null; failure: SyncError | null } = { onPush: null, failure: null };
  const store = (doc: Omit<ServedDoc, 'seq' | 'at'>): ServedDoc => {
    const { seq: _seq, at: _at, ...version } = doc as ServedDoc;
    const served: ServedDoc = { ...version, seq: ++head, at: AT };
    docs.set(doc.id, served);
    return served;
  };
  const listed = (stream: string, epoch: number): StreamAccess =>
    ({
      stream,
      patientId: patient.accountId,
      type: stream.slice(stream.indexOf('/') + 1),
      access: 'owner',
      head,
      epoch,
    }) as StreamAccess;
  const answerPush = (push: PushFrame) => {
    const results = push.rows.map(({ doc, assumedRev }): PushResult => {
      const held = docs.get(doc.id);
      if (held?.rev === doc.rev)
        return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: held.seq };
      if ((held?.rev ?? null) !== assumedRev)
        return { status: 'conflict', stream: doc.stream, id: doc.id, master: held ?? null };
      const served = store(doc);
      return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: served.seq };
    });
    return { t: 'pushed', rid: 1, results };
  };
  const connection = {
    // Never `ready`: no signed heads are exchanged.
    status: (): string => 'connecting',
    version: (): number => 1,
    failure: () => hooks.failure,
    reason: () => hooks.failure?.message ?? null,
    async request(frame: RequestFrame): Promise<unknown> {
      if (frame.t === 'listStreams')
        return { t: 'streams', rid: 1, streams: [listed(OPEN, 0), listed(LOCKED, 1)] };
      if (frame.t === 'subscribe') return { t: 'ok', rid: 1 };
      if (frame.t === 'getEnvelopes') return { t: 'envelopes', rid: 1, envelopes: [] };
      if (frame.t === 'push') {
        const push = frame as PushFrame;
        pushes.push(push);
        const hooked = hooks.onPush?.(push, () => answerPush(push));
        if (hooked !== undefined) return hooked;
        return answerPush(push);
      }
      if (frame.t !== 'pull') throw new Error(`unexpected ${frame.t}`);
      const out: ServedDoc[] = [];
      const streams = frame.streams.map(({ stream, since }) => {
        const after = [...docs.values()].filter((d) => d.stream === stream && d.seq > since);
        out.push(...after);
        return { stream, checkpoint: Math.max(since, ...after.map((d) => d.seq)), done: true };
      });
      return { t: 'pulled', rid: 1, docs: out.sort((a, b) => a.seq - b.seq), streams, denied: [] };
    },
  } as unknown as Connection;
  return { docs, pushes, store, connection, hooks, head: () => head };
};
export type KeyWaitServer = ReturnType<typeof keyWaitServer>;

/**
 * An engine of the fixture patient over a store named `dbName` whose metadata lives in `raw` (opened again
 * over the same map: the device restarted). `beforeWrite` runs before each metadata write lands.
 */
export const keyWaitDevice = async (
  s: KeyWaitServer,
  dbName: string,
  arriving: KeyEnvelope[],
  raw = new Map<string, unknown>(),
  opts: {
    beforeWrite?: (key: string) => Promise<void> | void;
    keyWaitRetry?: { baseMs: number; maxMs: number };
    /** Not connected after start (a restart offline). */
    offline?: boolean;
    /** The server's store incarnation told in `ready`. */
    incarnation?: string;
  } = {},
) => {
  const db = await openTestDb(dbName);
  const engine: SyncEngine = createSyncEngine({
    collection: db.records,
    connection: s.connection,
    keyring: keyringFor(patient, patientRoot, patientDevice, arriving),
    ed,
    accountId: patient.accountId,
    device: { deviceId: patientDevice.deviceId, secretKey: patientDevice.secretKey },
    lookupDeviceKey: async (account, dev) => {
      const key = await deviceKey(account, dev);
      return key ? { status: 'found', key } : { status: 'unknown' };
    },
    now: () => Date.now(),
    replicationId: dbName,
    ...(opts.keyWaitRetry ? { keyWaitRetry: opts.keyWaitRetry } : {}),
    meta: createDeviceMeta({
      read: async (key) => structuredClone(raw.get(key)),
      write: async (key, value) => {
        await opts.beforeWrite?.(key);
        raw.set(key, structuredClone(value));
      },
    }),
  });
  const d = { db, engine, raw };
  opened.push(d);
  await engine.start();
  if (opts.offline) return d;
  engine.onStatus('ready');
  await engine.onReady(opts.incarnation === undefined ? undefined : readyFrame(opts.incarnation));
  return d;
};
export type KeyWaitDevice = Awaited<ReturnType<typeof keyWaitDevice>>;

export const medication = (n: number, over: Partial<PlainRecord> = {}): PlainRecord => {
  const id = idIn(LOCKED, n);
  return record({
    id,
    stream: LOCKED,
    kind: 'Medication',
    data: dataOf('Medication', id, patient.accountId),
    ...over,
  });
};
export const waitsForKey = (engine: SyncEngine, id: string) =>
  engine.state().errors.some((e) => e.code === 'NO_KEY' && e.id === id);
export const keyComes = async (d: KeyWaitDevice, arriving: KeyEnvelope[]) => {
  arriving.push(await signedEnvelope(LOCKED, 1, randomBytes(32), patient));
  d.engine.onFrame({ t: 'accessChanged', streams: [], removed: [] });
};
export const live = (d: KeyWaitDevice, doc: ServedDoc) =>
  d.engine.onFrame({ t: 'changes', docs: [doc], streams: [{ stream: doc.stream, checkpoint: doc.seq }] });
export const localOf = async (d: KeyWaitDevice, id: string) =>
  (await d.db.records.findOne(id).exec())?.toJSON() ?? null;
/** The stored document including a tombstone. */
export const storedOf = async (d: KeyWaitDevice, id: string) =>
  (await d.db.records.storageInstance.findDocumentsById([id], true))[0] ?? null;
export const keyWaitMeta = (raw: Map<string, unknown>) =>
  (raw.get('key-wait') as unknown[] | undefined) ?? [];
export const rvOf = (doc: ServedDoc | undefined) => (doc ? parseRevTag(doc.rev)?.n : undefined);
