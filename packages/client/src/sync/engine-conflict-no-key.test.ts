import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, PushFrame, PushResult, ServedDoc, StreamAccess } from '@hale/protocol';
import { randomBytes } from '@hale/crypto';
import { createDeviceMeta } from '../store/device-meta';
import type { Connection, RequestFrame } from './connection';
import { createSyncEngine, type EngineDeps } from './engine';
import { encodeRecord } from './record-codec';
import {
  dataOf,
  deviceKey,
  depsFor,
  ed,
  flipByte,
  keyringFor,
  patient,
  patientDevice,
  patientRoot,
  record,
  servedAs,
  signedEnvelope,
} from './codec-fixture.test-util';
import { closeOpened, openTestDb, opened, settled, until } from './scripted-server.test-util';

// A local change whose push meets a newer server version this device cannot open yet (NO_KEY: the key of
// its epoch has not reached this device) waits for that key, pending, and is then merged like any conflict;
// one that can never open (TAMPERED) goes to unsent as CONFLICT_UNREADABLE, as before. The patient's own
// device against a server that takes pushes (conflicting on a stale assumed revision, checking no epoch).

const STREAM = `${patient.accountId}/allergy`;
const ID = '01J5000000000000000000AAAA';
const AT = '2026-01-01T00:00:00.000Z';

/** A server holding STREAM, owned by the device's account: stores pushes whose assumed revision is its own. */
const pushServer = () => {
  const docs = new Map<string, ServedDoc>();
  let head = 0;
  /** Push requests answered so far. */
  const pushes = { count: 0 };
  const store = (doc: Omit<ServedDoc, 'seq' | 'at'>): ServedDoc => {
    const { seq: _seq, at: _at, ...version } = doc as ServedDoc;
    const served = { ...version, seq: ++head, at: AT };
    docs.set(doc.id, served);
    return served;
  };
  const connection = {
    // Never `ready`: no signed heads are exchanged.
    status: (): string => 'connecting',
    version: (): number => 1,
    async request(frame: RequestFrame): Promise<unknown> {
      if (frame.t === 'listStreams') {
        const access = {
          stream: STREAM,
          patientId: patient.accountId,
          type: 'allergy',
          access: 'owner',
          head,
          epoch: 0,
        };
        return { t: 'streams', rid: 1, streams: [access as StreamAccess] };
      }
      if (frame.t === 'subscribe') return { t: 'ok', rid: 1 };
      if (frame.t === 'getEnvelopes') return { t: 'envelopes', rid: 1, envelopes: [] };
      if (frame.t === 'push') {
        pushes.count++;
        const results = (frame as PushFrame).rows.map(({ doc, assumedRev }): PushResult => {
          const current = docs.get(doc.id);
          if (current !== undefined && current.rev === doc.rev)
            return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: current.seq };
          if (current === undefined ? assumedRev !== null : current.rev !== assumedRev)
            return { status: 'conflict', stream: doc.stream, id: doc.id, master: current ?? null };
          const stored = store(doc);
          return { status: 'ok', stream: doc.stream, id: doc.id, rev: doc.rev, seq: stored.seq };
        });
        return { t: 'pushed', rid: 1, results };
      }
      if (frame.t !== 'pull') throw new Error(`unexpected ${frame.t}`);
      let budget = frame.limit;
      const out: ServedDoc[] = [];
      const pulled = frame.streams.map(({ stream, since }) => {
        const after = [...docs.values()]
          .filter((d) => d.stream === stream && d.seq > since)
          .sort((a, b) => a.seq - b.seq);
        const page = after.slice(0, Math.max(0, budget));
        budget -= page.length;
        out.push(...page);
        return { stream, checkpoint: page.at(-1)?.seq ?? since, done: page.length === after.length };
      });
      return { t: 'pulled', rid: 1, docs: out, streams: pulled, denied: [] };
    },
  } as unknown as Connection;
  return { docs, store, connection, pushes };
};

afterEach(closeOpened);
let dbCount = 0;

/** The patient's device; its keyring fetches `envelopes` (the test adds to it: a key arriving). */
const device = async (
  server: ReturnType<typeof pushServer>,
  envelopes: KeyEnvelope[],
  extra: Partial<EngineDeps> = {},
) => {
  const name = `conflict-no-key${++dbCount}`;
  const raw = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      raw.set(key, structuredClone(value));
    },
  });
  const db = await openTestDb(name);
  const engine = createSyncEngine({
    collection: db.records,
    connection: server.connection,
    keyring: keyringFor(patient, patientRoot, patientDevice, envelopes),
    ed,
    accountId: patient.accountId,
    device: { deviceId: patientDevice.deviceId, secretKey: patientDevice.secretKey },
    lookupDeviceKey: async (account, dev) => {
      const key = await deviceKey(account, dev);
      return key ? { status: 'found', key } : { status: 'unknown' };
    },
    now: () => Date.now(),
    replicationId: `conflict-no-key-test-${name}`,
    meta,
    quarantineRetry: { baseMs: 50, maxMs: 200 },
    // The waiting change is sent again about as often as RxDB sent a failed batch (once a second).
    keyWaitRetry: { baseMs: 500, maxMs: 1_000 },
    ...extra,
  });
  opened.push({ engine, db });
  await engine.start();
  const connect = async (): Promise<void> => {
    engine.onStatus('ready');
    await engine.onReady();
  };
  const stored = async () => (await db.records.findOne(ID).exec())?.toJSON() ?? null;
  return { engine, db, connect, stored };
};

/** The allergy at revision `rv`, with `substance`. */
const allergy = (rv: number, substance: string) =>
  record({ id: ID, rv, data: dataOf('Allergy', ID, patient.accountId, { substance }) });

/** The envelope of a new epoch 1 of STREAM for the patient (signed by the patient's device). */
const epochOne = (): Promise<KeyEnvelope> => signedEnvelope(STREAM, 1, randomBytes(32), patient);

/**
 * The issues saying a local change waits (the per-record one, and any summary of them): none once the wait
 * ended, merged or given up.
 */
const waitIssues = (engine: { state(): { errors: { message: string }[] } }): string[] =>
  engine
    .state()
    .errors.map((e) => e.message)
    .filter((m) => /\bwaits?\b/.test(m));

/** The device holds revision 1 and edits it offline; meanwhile the server takes revision 2 from `master`. */
const editMeetsMaster = async (
  master: (v: ServedDoc) => ServedDoc,
  envelopes: KeyEnvelope[],
  sealer: KeyEnvelope[],
  extra: Partial<EngineDeps> = {},
) => {
  const server = pushServer();
  const first = depsFor(patient, patientRoot, patientDevice);
  const one = await encodeRecord(first, allergy(1, 'Latex'), (await first.keyring.writeKey(STREAM))!);
  server.store(one!);
  const d = await device(server, envelopes, extra);
  await d.connect();
  await until(async () => (await d.stored())?.rv === 1, 'revision 1 stored');
  await settled(d.engine);
  d.engine.onStatus('offline');

  const local = (await d.db.records.findOne(ID).exec())!;
  await local.incrementalPatch({ rv: 2, data: { ...local.toJSON().data, substance: 'Peanut' } });
  // Another device of the patient wrote revision 2 under epoch 1.
  const other = depsFor(patient, patientRoot, patientDevice, sealer);
  await other.keyring.refresh();
  const write = (await other.keyring.writeKey(STREAM))!;
  const two = await encodeRecord(other, allergy(2, 'Shellfish'), write);
  server.store(master(servedAs(two!)));
  await d.connect();
  return { server, d, write };
};

describe('a local change meeting a newer server version it cannot open', () => {
  it('waits pending for the key (NO_KEY), then is merged with that version', async () => {
    const envelope = await epochOne();
    const arriving: KeyEnvelope[] = [];
    const { server, d, write } = await editMeetsMaster((v) => v, arriving, [envelope]);
    // The server's version is sealed under epoch 1, whose key this device does not hold yet.
    expect(write.epoch).toBe(1);

    await until(
      () => d.engine.quarantine().some((q) => q.id === ID && q.reason === 'NO_KEY'),
      'set aside NO_KEY',
    );
    // Let the push meet it (and retry) a while: the local change is neither set aside nor lost.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(d.engine.unsent().map((u) => u.code)).toEqual([]);
    expect(d.engine.state().pendingWrites).toBe(1);
    expect(d.engine.state().errors.map((e) => e.code)).not.toContain('CONFLICT_UNREADABLE');
    expect((await d.stored())?.data['substance']).toBe('Peanut');

    // The key arrives: the server's version opens and both sides are kept.
    arriving.push(envelope);
    await until(
      async () =>
        d.engine.state().pendingWrites === 0 && (server.docs.get(ID)?.rev.startsWith('3-') ?? false),
      'the merge is pushed',
    );
    const merged = (await d.stored())!;
    expect(merged.rv).toBe(3);
    expect(merged.conflict).toBe(true);
    expect([merged.data['substance'], merged.conflictData?.['substance']].sort()).toEqual([
      'Peanut',
      'Shellfish',
    ]);
    expect(d.engine.unsent()).toEqual([]);
    await until(() => d.engine.quarantine().length === 0, 'the entry answered');
    expect(waitIssues(d.engine)).toEqual([]);
  });

  it('that can never open (TAMPERED) goes to unsent as CONFLICT_UNREADABLE, as before', async () => {
    const envelope = await epochOne();
    const { d } = await editMeetsMaster((v) => ({ ...v, ct: flipByte(v.ct, -5, 1) }), [envelope], [envelope]);
    await until(() => d.engine.unsent().some((u) => u.code === 'CONFLICT_UNREADABLE'), 'kept unsent');
    expect(d.engine.unsent()).toMatchObject([
      { id: ID, code: 'CONFLICT_UNREADABLE', data: { substance: 'Peanut' } },
    ]);
    expect(d.engine.state().pendingWrites).toBe(0);
    expect(d.engine.quarantine()).toMatchObject([{ id: ID, reason: 'TAMPERED' }]);
  });
});

// The waiting change is on the engine's key-wait list, taken by RxDB as sent: RxDB sends one batch at a
// time and would otherwise send a failed one again, the same rows, holding every later local change (and
// every pull) of the device meanwhile. The wait is bounded (`conflictWaitMs`): past it the local change goes
// to unsent as before the wait existed.
const ID2 = '01J5000000000000000000BBBB';
const laterRecord = () =>
  record({ id: ID2, rv: 1, data: dataOf('Allergy', ID2, patient.accountId, { substance: 'Pollen' }) });

describe('a local change waiting for a server version that never opens', () => {
  it('holds up no later local change while it waits; it is merged once that version opens', async () => {
    const envelope = await epochOne();
    const arriving: KeyEnvelope[] = [];
    const { server, d } = await editMeetsMaster((v) => v, arriving, [envelope]);
    await until(
      () => d.engine.quarantine().some((q) => q.id === ID && q.reason === 'NO_KEY'),
      'set aside NO_KEY',
    );
    await d.db.records.insert(laterRecord());
    d.engine.notePending(ID2, 1);
    await until(() => server.docs.has(ID2), 'the later record is pushed while the change waits');
    expect(d.engine.state().pendingWrites).toBe(1);
    expect(server.docs.get(ID)?.rev.startsWith('2-')).toBe(true);

    arriving.push(envelope);
    await until(() => d.engine.state().pendingWrites === 0, 'nothing pending');
    expect(d.engine.unsent()).toEqual([]);
    expect(server.docs.get(ID)?.rev.startsWith('3-')).toBe(true);
    // The wait is over: no longer listed.
    expect(d.engine.state().errors.some((e) => e.message.includes('waits for it'))).toBe(false);
  });

  it('an edit made while the waiting change is sent again replaces it, not sent on top of it', async () => {
    const envelope = await epochOne();
    const arriving: KeyEnvelope[] = [];
    const { server, d } = await editMeetsMaster((v) => v, arriving, [envelope]);
    await until(
      () => d.engine.state().errors.some((e) => e.id === ID && e.code === 'CONFLICT_WAIT'),
      'the wait reported',
    );
    // The next push (the waiting change sent again from the list) is held until the edit is handed over.
    const request = server.connection.request.bind(server.connection);
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let holdNext = true;
    let holding = false;
    server.connection.request = (async (frame: RequestFrame, ...rest: unknown[]) => {
      if (frame.t === 'push' && holdNext) {
        holdNext = false;
        holding = true;
        await gate;
      }
      return (request as (...a: unknown[]) => Promise<unknown>)(frame, ...rest);
    }) as Connection['request'];
    await until(() => holding, 'the waiting change is being sent again');
    const local = (await d.db.records.findOne(ID).exec())!;
    await local.incrementalPatch({ rv: 3, data: { ...local.toJSON().data, substance: 'Sesame' } });
    d.engine.notePending(ID, 3);
    await new Promise((r) => setTimeout(r, 300));
    release();
    await until(
      () => server.pushes.count >= 3,
      'the edit is sent once the waiting change was answered (waiting again)',
    );
    await new Promise((r) => setTimeout(r, 300));
    // The edit carries the waiting change's content: it takes its place, nothing goes to unsent.
    expect(d.engine.unsent()).toEqual([]);
    expect(d.engine.state().pendingWrites).toBe(1);

    arriving.push(envelope);
    await until(
      async () =>
        d.engine.state().pendingWrites === 0 && (server.docs.get(ID)?.rev.startsWith('4-') ?? false),
      'the merge is pushed',
    );
    const merged = (await d.stored())!;
    expect([merged.data['substance'], merged.conflictData?.['substance']].sort()).toEqual([
      'Sesame',
      'Shellfish',
    ]);
    expect(d.engine.unsent()).toEqual([]);
  });

  it('goes to unsent (CONFLICT_UNREADABLE) past the bound when the key never comes; later changes flow', async () => {
    const envelope = await epochOne();
    const { server, d } = await editMeetsMaster((v) => v, [], [envelope], { conflictWaitMs: 1_500 });
    await until(
      () => d.engine.quarantine().some((q) => q.id === ID && q.reason === 'NO_KEY'),
      'set aside NO_KEY',
    );
    await d.db.records.insert(laterRecord());
    d.engine.notePending(ID2, 1);

    await until(() => server.docs.has(ID2), 'the later record is pushed');
    await until(() => d.engine.unsent().length > 0, 'kept unsent past the bound');
    expect(d.engine.unsent()).toMatchObject([
      { id: ID, code: 'CONFLICT_UNREADABLE', data: { substance: 'Peanut' } },
    ]);
    expect(d.engine.unsent()[0]!.message).toMatch(/key did not arrive/);
    // The server keeps the version that did not open; the local change was not sent over it.
    expect(server.docs.get(ID)?.rev.startsWith('2-')).toBe(true);
    await until(() => d.engine.state().pendingWrites === 0, 'nothing pending');
    // The version stays set aside NO_KEY (fetched again with backoff); the wait is no longer listed.
    expect(d.engine.quarantine()).toMatchObject([{ id: ID, reason: 'NO_KEY' }]);
    const issues = d.engine.state().errors;
    expect(issues.some((e) => e.id === ID && e.message.includes('waits for it'))).toBe(false);
    expect(issues).toContainEqual(expect.objectContaining({ code: 'CONFLICT_UNREADABLE', id: ID }));
    expect(waitIssues(d.engine)).toEqual([]);
  });

  it('gives up no sooner than at the batch sent again, however short the bound (the keyring asked again)', async () => {
    const envelope = await epochOne();
    const { server, d } = await editMeetsMaster((v) => v, [], [envelope], { conflictWaitMs: 0 });
    const waiting = (): boolean =>
      d.engine.state().errors.some((e) => e.id === ID && e.message.includes('waits for it'));
    await until(waiting, 'the wait reported');
    expect(d.engine.unsent()).toEqual([]);
    await until(() => d.engine.unsent().length > 0, 'kept unsent');
    expect(d.engine.unsent()).toMatchObject([{ id: ID, code: 'CONFLICT_UNREADABLE' }]);
    expect(waiting()).toBe(false);
    expect(server.docs.get(ID)?.rev.startsWith('2-')).toBe(true);
  });

  it('an author list that never loads (AUTHOR_LOOKUP_FAILED) goes to unsent past the bound likewise', async () => {
    const down = { on: false };
    const { server, d } = await editMeetsMaster(
      (v) => {
        down.on = true;
        return v;
      },
      [],
      [],
      {
        conflictWaitMs: 1_500,
        lookupDeviceKey: async (account, dev) => {
          if (down.on) return { status: 'unavailable', message: 'directory down' };
          const key = await deviceKey(account, dev);
          return key ? { status: 'found', key } : { status: 'unknown' };
        },
      },
    );
    await until(
      () => d.engine.quarantine().some((q) => q.id === ID && q.reason === 'AUTHOR_LOOKUP_FAILED'),
      'set aside AUTHOR_LOOKUP_FAILED',
    );
    await d.db.records.insert(laterRecord());
    d.engine.notePending(ID2, 1);
    await until(() => server.docs.has(ID2), 'the later record is pushed');
    await until(() => d.engine.unsent().length > 0, 'kept unsent past the bound');
    expect(d.engine.unsent()).toMatchObject([{ id: ID, code: 'CONFLICT_UNREADABLE' }]);
    expect(d.engine.unsent()[0]!.message).toMatch(/devices could not be looked up/);
  });

  it('a wait that changes reason (NO_KEY, then AUTHOR_LOOKUP_FAILED) leaves no issue once given up', async () => {
    const envelope = await epochOne();
    const arriving: KeyEnvelope[] = [];
    const down = { on: false };
    const { d } = await editMeetsMaster((v) => v, arriving, [envelope], {
      conflictWaitMs: 1_500,
      lookupDeviceKey: async (account, dev) => {
        if (down.on) return { status: 'unavailable', message: 'directory down' };
        const key = await deviceKey(account, dev);
        return key ? { status: 'found', key } : { status: 'unknown' };
      },
    });
    await until(
      () => d.engine.state().errors.some((e) => e.id === ID && e.message.includes('(NO_KEY)')),
      'the NO_KEY wait reported',
    );
    // The key comes, but the author's devices cannot be looked up now.
    down.on = true;
    arriving.push(envelope);
    await until(
      () => d.engine.state().errors.some((e) => e.id === ID && e.message.includes('(AUTHOR_LOOKUP_FAILED)')),
      'the AUTHOR_LOOKUP_FAILED wait reported',
    );
    await until(() => d.engine.unsent().length > 0, 'kept unsent');
    expect(d.engine.unsent()).toMatchObject([{ id: ID, code: 'CONFLICT_UNREADABLE' }]);
    expect(d.engine.unsent()[0]!.message).toMatch(/devices could not be looked up/);
    expect(waitIssues(d.engine)).toEqual([]);
  });
});

// The wait counts only time the device is connected (it cannot fetch a key offline): a change that met such a
// version just before going offline for hours still waits after reconnecting, and the bound still holds over
// a connection that keeps dropping.
describe('the wait for a server version that cannot be verified yet, across time offline', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('does not count time offline: after a night offline the change still waits, and merges when the key comes', async () => {
    const envelope = await epochOne();
    const arriving: KeyEnvelope[] = [];
    const clock = { skew: 0 };
    const { server, d } = await editMeetsMaster((v) => v, arriving, [envelope], {
      conflictWaitMs: 3_000,
      now: () => Date.now() + clock.skew,
    });
    const waiting = (): boolean =>
      d.engine.state().errors.some((e) => e.id === ID && e.code === 'CONFLICT_WAIT');
    await until(waiting, 'the wait reported');

    // Offline overnight: the next send of the change waits for a connection.
    d.engine.onStatus('offline');
    clock.skew += 8 * 60 * 60_000;
    await sleep(1_200);
    const before = server.pushes.count;
    await d.connect();
    // Sent again twice since reconnecting (the keys fetched again each time), well within the bound of
    // time connected: still waiting, nothing given up.
    await until(
      () => server.pushes.count >= before + 2 || d.engine.unsent().length > 0,
      'sent again after reconnecting',
    );
    expect(d.engine.unsent()).toEqual([]);
    expect(d.engine.state().errors.map((e) => e.code)).not.toContain('CONFLICT_UNREADABLE');
    expect(waiting()).toBe(true);
    expect(d.engine.state().pendingWrites).toBe(1);

    // The key arrives (the other device came online and published it): merged like any conflict.
    arriving.push(envelope);
    await until(
      async () =>
        d.engine.state().pendingWrites === 0 && (server.docs.get(ID)?.rev.startsWith('3-') ?? false),
      'the merge is pushed',
    );
    const merged = (await d.stored())!;
    expect([merged.data['substance'], merged.conflictData?.['substance']].sort()).toEqual([
      'Peanut',
      'Shellfish',
    ]);
    expect(d.engine.unsent()).toEqual([]);
    expect(waitIssues(d.engine)).toEqual([]);
  });

  it('still ends once the device was connected that long in all, over a connection that keeps dropping', async () => {
    const envelope = await epochOne();
    const clock = { skew: 0 };
    const { server, d } = await editMeetsMaster((v) => v, [], [envelope], {
      conflictWaitMs: 1_500,
      now: () => Date.now() + clock.skew,
    });
    await until(
      () => d.engine.state().errors.some((e) => e.id === ID && e.code === 'CONFLICT_WAIT'),
      'the wait reported',
    );
    // Each spell connected is shorter than the bound; each spell offline is an hour.
    const end = Date.now() + 10_000;
    while (d.engine.unsent().length === 0 && Date.now() < end) {
      await sleep(700);
      d.engine.onStatus('offline');
      clock.skew += 60 * 60_000;
      await sleep(100);
      await d.connect();
    }
    expect(d.engine.unsent()).toMatchObject([{ id: ID, code: 'CONFLICT_UNREADABLE' }]);
    expect(server.docs.get(ID)?.rev.startsWith('2-')).toBe(true);
    expect(waitIssues(d.engine)).toEqual([]);
  });
});
