import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, ServedDoc } from '@hale/protocol';
import type { DeviceDb } from '../store/device-db';
import { deviceMetaStore } from '../store/meta-store';
import { createDeviceMeta, type DeviceMeta } from '../store/device-meta';
import { SYNC_STATE } from './stored-state';
import { SyncError } from './connection';
import { createSyncEngine, type SyncEngine } from './engine';
import {
  dataOf,
  deviceKey,
  ed,
  flipByte,
  keyringFor,
  patient,
  patientDeps,
  patientDevice,
  provider,
  providerDevice,
  providerRoot,
  record,
  servedRecord,
  signedEnvelope,
} from './codec-fixture.test-util';
import {
  closeOpened,
  openTestDb,
  opened,
  scriptedServer,
  settled,
  stopAndClose,
  storage,
  until,
} from './scripted-server.test-util';

// The content of versions refused BAD_TRANSITION, kept with their quarantine entries: a provider device
// reading a patient's lab results from a scripted server, its device metadata in the device database
// (sealed at rest), restarted over the same store as an app is.

const LAB = `${patient.accountId}/lab-result`;
const idOf = (n: number) => `01J3000000000000000000${String(n).padStart(4, '0')}`;
const AT = '2026-01-01T00:00:00.000Z';
/** What a refused version holds and nothing else of the test does (`n`: which lab result). */
const markerOf = (n: number) => `Refused Lab ${n} Q7X`;

/** Lab result `n` at revision `rv` with `value` (and a marker once refused), as the patient's device signs it. */
const lab = (n: number, rv: number, value: number, performer = 'Lab A') => {
  const id = idOf(n);
  return servedRecord(
    record({
      id,
      rv,
      stream: LAB,
      kind: 'LabResult',
      data: dataOf('LabResult', id, patient.accountId, { value, performer, version: 1, versions: [] }),
    }),
  );
};
/** Its value and performer changed in place (not as its next version): refused BAD_TRANSITION. */
const forged = (n: number, rv = 2) => lab(n, rv, 140 + n, markerOf(n));

let dbCount = 0;
afterEach(closeOpened);

/** Everything the memory storage holds for database `name` (its collections named `only`), as one string. */
const rawStorage = (name: string, only = ''): string => {
  const out: unknown[] = [];
  for (const [key, state] of storage.collectionStates) {
    if (key.startsWith(`${name}--`) && key.includes(only)) out.push(key, [...state.documents.values()]);
  }
  return JSON.stringify(out);
};

type Options = {
  keptContent?: { entryBytes: number; totalBytes: number };
  onPurged?: () => void;
  /** The device meta the engine is given, made from the real one (a test may hold its writes). */
  wrapMeta?: (meta: DeviceMeta) => DeviceMeta;
};

/** One provider device whose store and metadata (in it) survive a restart. */
const device = (server: ReturnType<typeof scriptedServer>, envelopes: KeyEnvelope[]) => {
  const name = `kept${Date.now().toString(36)}${++dbCount}`;
  let current: { engine: SyncEngine; db: DeviceDb; meta: DeviceMeta } | null = null;
  const start = async ({ wrapMeta, ...options }: Options = {}) => {
    if (current) await stop();
    const db = await openTestDb(name);
    const meta = createDeviceMeta(deviceMetaStore(db));
    const engine = createSyncEngine({
      collection: db.records,
      connection: server.connection,
      keyring: keyringFor(provider, providerRoot, providerDevice, envelopes),
      ed,
      accountId: provider.accountId,
      device: { deviceId: providerDevice.deviceId, secretKey: providerDevice.secretKey },
      lookupDeviceKey: async (account, dev) => {
        const key = await deviceKey(account, dev);
        return key ? { status: 'found', key } : { status: 'unknown' };
      },
      now: () => Date.now(),
      replicationId: `kept-test-${name}`,
      meta: wrapMeta?.(meta) ?? meta,
      ...options,
    });
    current = { engine, db, meta };
    opened.push(current);
    await engine.start();
    await reconnect();
    return engine;
  };
  const reconnect = async (): Promise<void> => {
    const engine = current!.engine;
    engine.onStatus('offline');
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
    await settled(engine);
  };
  const stop = async (): Promise<void> => {
    if (!current) return;
    await stopAndClose(current);
    current = null;
  };
  const stored = async (id: string) => (await current!.db.records.findOne(id).exec())?.toJSON() ?? null;
  /** The device meta keys of kept content. */
  const keptKeys = async () => (await current!.meta.keys('quarantine-kept/')) ?? [];
  return {
    name,
    start,
    reconnect,
    stop,
    stored,
    keptKeys,
    meta: () => current!.meta,
    db: () => current!.db,
  };
};

const envelope = async () => signedEnvelope(LAB, 0, (await patientDeps.keyring.keyFor(LAB, 0))!, provider);

/** A device holding lab results 1..count (value 98), then served a forgery of each of `refused`, in order. */
const setUp = async (count: number, refused: readonly number[], options: Options = {}) => {
  const server = scriptedServer([LAB]);
  for (let n = 1; n <= count; n++) server.serve(await lab(n, 1, 98));
  const d = device(server, [await envelope()]);
  let engine = await d.start(options);
  await until(async () => (await d.stored(idOf(count))) !== null, 'the lab results are stored');
  const versions: ServedDoc[] = [];
  for (const n of refused) {
    versions.push(server.serve(await forged(n)));
    await d.reconnect();
    await until(() => engine.quarantine().some((q) => q.id === idOf(n)), `forgery ${n} is set aside`);
  }
  return {
    server,
    d,
    versions,
    restart: async (o: Options = options) => (engine = await d.start(o)),
    engine: () => engine,
  };
};

const errorOf = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => null,
    (e: unknown) => e,
  );

describe('the content of a version refused BAD_TRANSITION', () => {
  it('is kept with its entry, with its verified writer, and read back after a restart', async () => {
    const { d, versions, restart, engine } = await setUp(1, [1]);
    const [v] = versions;
    const entry = engine().quarantine()[0]!;
    expect([entry.reason, entry.content?.kept]).toEqual(['BAD_TRANSITION', true]);
    // The entry as listed names nothing of where its content lies.
    expect(Object.keys(entry)).not.toContain('slot');
    const read = async () => {
      const kept = await engine().quarantinedVersion(v!);
      return [
        kept.reason,
        kept.author,
        kept.record.rv,
        kept.record.data['value'],
        kept.record.data['performer'],
      ];
    };
    const expected = [
      'BAD_TRANSITION',
      { accountId: patient.accountId, deviceId: patientDevice.deviceId },
      2,
      141,
      markerOf(1),
    ];
    expect(await read()).toEqual(expected);
    // The held version stays.
    expect((await d.stored(idOf(1)))?.data).toMatchObject({ value: 98 });

    await restart();
    expect(await read()).toEqual(expected);
    expect(await d.keptKeys()).toHaveLength(1);
  });

  it('lies in the device store sealed: its content is not there in clear, nor the entry’s', async () => {
    const { d, versions, engine } = await setUp(1, [1]);
    await engine().quarantinedVersion(versions[0]!);
    // RxDB hands a local document to its storage after the write settles.
    await until(() => rawStorage(d.name).includes('meta-quarantine-kept/'), 'the kept content is stored');
    const dump = rawStorage(d.name);
    expect(dump).toContain('meta-quarantine');
    for (const clear of [markerOf(1), '"value":141']) expect(dump).not.toContain(clear);
    // Device meta names no patient (records name their stream in clear, as ever: not looked at).
    expect(rawStorage(d.name, 'local-documents')).not.toContain(patient.accountId);
  });

  it('goes when its entry is dismissed; read then, it is not quarantined', async () => {
    const { d, versions, restart, engine } = await setUp(1, [1]);
    expect(await d.keptKeys()).toHaveLength(1);
    await engine().dismissQuarantined(versions[0]!);
    expect(await d.keptKeys()).toEqual([]);
    expect(await errorOf(engine().quarantinedVersion(versions[0]!))).toMatchObject({
      code: 'NOT_QUARANTINED',
      retry: false,
    });
    await restart();
    expect(await d.keptKeys()).toEqual([]);
    expect(rawStorage(d.name)).not.toContain('meta-quarantine-kept/');
  });

  it('beyond the total kept, the oldest goes first, and its entry says so', async () => {
    // Each kept version is about 3.9 kB (the example record carries its import origin and kept source, the
    // coded fields an import keeps beside their text, and its parts' samples): room for two.
    const budget = { keptContent: { entryBytes: 5000, totalBytes: 9000 } };
    const { server, d, versions, engine } = await setUp(3, [1, 2], budget);
    const size = engine().quarantine()[0]!.content;
    expect(size?.kept === true && size.bytes > 3500 && size.bytes < 4500).toBe(true);
    expect(dropped(engine())).toBe(0);

    versions.push(server.serve(await forged(3)));
    await d.reconnect();
    await until(() => engine().quarantine().length === 3, 'forgery 3 is set aside');
    expect(contents(engine())).toEqual([
      [idOf(1), false, 'budget'],
      [idOf(2), true, undefined],
      [idOf(3), true, undefined],
    ]);
    expect(dropped(engine())).toBe(1);
    expect(await errorOf(engine().quarantinedVersion(versions[0]!))).toMatchObject({
      code: 'VERSION_NOT_KEPT',
      retry: false,
    });
    for (const v of versions.slice(1)) {
      expect((await engine().quarantinedVersion(v)).record.data['performer']).toBe(markerOf(revOf(v)));
    }
    expect(await d.keptKeys()).toHaveLength(2);
  });

  it('of an entry marked overwritten goes last', async () => {
    const budget = { keptContent: { entryBytes: 5000, totalBytes: 9000 } };
    const { server, d, versions, engine, restart } = await setUp(3, [1, 2], budget);
    // The oldest is a version this device's change was stored over (as `noteOverwritten` marks it).
    const meta = d.meta();
    const listed = (await meta.get('quarantine', SYNC_STATE.quarantine)) ?? [];
    await meta.set(
      'quarantine',
      listed.map((q) => (q.id === idOf(1) ? { ...q, overwritten: { at: AT, by: patient.accountId } } : q)),
    );
    await restart();
    versions.push(server.serve(await forged(3)));
    await d.reconnect();
    await until(() => engine().quarantine().length === 3, 'forgery 3 is set aside');
    expect(contents(engine())).toEqual([
      [idOf(1), true, undefined],
      [idOf(2), false, 'budget'],
      [idOf(3), true, undefined],
    ]);
    expect((await engine().quarantinedVersion(versions[0]!)).overwritten?.by).toBe(patient.accountId);
  });

  it('larger than one entry may keep is not kept, and the entry says so', async () => {
    const { d, versions, engine } = await setUp(1, [1], {
      keptContent: { entryBytes: 500, totalBytes: 2800 },
    });
    expect(contents(engine())).toEqual([[idOf(1), false, 'too-large']]);
    expect(await errorOf(engine().quarantinedVersion(versions[0]!))).toMatchObject({
      code: 'VERSION_NOT_KEPT',
    });
    expect(await d.keptKeys()).toEqual([]);
  });

  it('goes with its stream’s purge when access ends; the entry stays, saying so', async () => {
    const { d, versions, engine } = await setUp(1, [1]);
    expect(await d.keptKeys()).toHaveLength(1);
    engine().onFrame({
      t: 'accessChanged',
      streams: [],
      removed: [{ stream: LAB, reason: 'revoked' }],
    } as never);
    await until(async () => (await d.keptKeys()).length === 0, 'the kept content is removed');
    expect(contents(engine())).toEqual([[idOf(1), false, 'purged']]);
    expect(await errorOf(engine().quarantinedVersion(versions[0]!))).toMatchObject({
      code: 'VERSION_NOT_KEPT',
    });
    expect(rawStorage(d.name)).not.toContain('meta-quarantine-kept/');
  });

  it('is not kept for a version that did not open', async () => {
    const server = scriptedServer([LAB]);
    server.serve(await lab(1, 1, 98));
    const d = device(server, [await envelope()]);
    const engine = await d.start();
    await until(async () => (await d.stored(idOf(1))) !== null, 'the lab result is stored');
    const version = await forged(1);
    const altered = server.serve({ ...version, ct: flipByte(version.ct, -5, 1) });
    await d.reconnect();
    await until(() => engine.quarantine().length === 1, 'set aside');
    expect(contents(engine)).toEqual([[idOf(1), undefined, undefined]]);
    expect(engine.quarantine()[0]?.reason).toBe('TAMPERED');
    const error = await errorOf(engine.quarantinedVersion(altered));
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({ code: 'VERSION_NOT_KEPT' });
    expect(await d.keptKeys()).toEqual([]);
  });

  it('no entry names (a crash between the two writes) is removed at the next start', async () => {
    const { d, restart } = await setUp(1, [1]);
    const [slot] = await d.keptKeys();
    await d.meta().set('quarantine-kept/stray', { left: 'behind' });
    expect((await d.keptKeys()).sort()).toEqual([slot, 'quarantine-kept/stray'].sort());
    await restart();
    expect(await d.keptKeys()).toEqual([slot]);
  });

  it('damaged at rest neither stops the next start nor is handed out: it is not kept', async () => {
    const { d, versions, restart } = await setUp(1, [1]);
    await d.stop();
    // One character of the sealed value changed on disk.
    let damaged = 0;
    for (const [key, state] of storage.collectionStates) {
      if (!key.startsWith(`${d.name}--`)) continue;
      for (const doc of state.documents.values()) {
        const sealed = (doc as { id?: string; data?: unknown }).data;
        if (!String((doc as { id?: string }).id).startsWith('meta-quarantine-kept/')) continue;
        if (typeof sealed !== 'string') continue;
        const at = sealed.length - 5;
        (doc as { data: string }).data =
          `${sealed.slice(0, at)}${sealed[at] === 'A' ? 'B' : 'A'}${sealed.slice(at + 1)}`;
        damaged++;
      }
    }
    expect(damaged).toBe(1);
    const engine = await restart();
    expect(engine.quarantine().map((q) => q.id)).toEqual([idOf(1)]);
    expect(await errorOf(engine.quarantinedVersion(versions[0]!))).toMatchObject({
      code: 'VERSION_NOT_KEPT',
    });
  });
});

const contents = (engine: SyncEngine) =>
  engine
    .quarantine()
    .map((q) => [q.id, q.content?.kept, q.content?.kept === false ? q.content.why : undefined]);
const dropped = (engine: SyncEngine) =>
  engine.state().errors.filter((e) => e.code === 'QUARANTINE_CONTENT_DROPPED').length;
/** Which lab result a served version is (its id's number). */
const revOf = (doc: ServedDoc) => Number(doc.id.slice(-4));

describe('content kept and access ending', () => {
  it('is not kept for a stream whose access ended while the page that refused it was judged', async () => {
    let purged = false;
    const { server, d, engine } = await setUp(1, [], { onPurged: () => (purged = true) });
    const si = d.db().records.storageInstance;
    const find = si.findDocumentsById.bind(si);
    let armed = true;
    // Access ends right after the page read the device's copies, before the forgery is judged and set aside.
    si.findDocumentsById = async (ids: string[], withDeleted: boolean) => {
      const out = await find(ids, withDeleted);
      if (armed && ids.includes(idOf(1))) {
        armed = false;
        server.end();
        engine().onFrame({
          t: 'accessChanged',
          streams: [],
          removed: [{ stream: LAB, reason: 'revoked' }],
        } as never);
        await until(() => purged, 'the stream is purged');
      }
      return out;
    };
    const version = server.serve(await forged(1));
    engine().onStatus('offline');
    engine().onStatus('ready');
    void engine().onReady();
    await until(() => engine().quarantine().length === 1, 'the forgery is set aside');
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
    expect(purged).toBe(true);
    expect(engine().quarantine()[0]?.content).toMatchObject({ kept: false, why: 'purged' });
    expect(await d.keptKeys()).toEqual([]);
    expect(await errorOf(engine().quarantinedVersion(version))).toMatchObject({ code: 'VERSION_NOT_KEPT' });
    expect(rawStorage(d.name)).not.toContain(markerOf(1));
  });
});

describe('the saved quarantine list', () => {
  it('is never overwritten by a list saved earlier that waited for its content write', async () => {
    const gate = { closed: false, waiters: [] as Array<() => void> };
    const hold = (meta: DeviceMeta): DeviceMeta => ({
      ...meta,
      set: async (key: string, value: unknown) => {
        if (key.startsWith('quarantine-kept/') && gate.closed)
          await new Promise<void>((r) => gate.waiters.push(r));
        return meta.set(key, value);
      },
    });
    const { server, d, versions, engine } = await setUp(3, [1], { wrapMeta: hold });
    gate.closed = true;
    versions.push(server.serve(await forged(2)));
    engine().onStatus('offline');
    engine().onStatus('ready');
    void engine().onReady();
    await until(() => engine().quarantine().length === 2, 'the second forgery is set aside (content held)');
    const dismissed = engine().dismissQuarantined(...versions);
    dismissed.catch(() => undefined);
    await until(() => engine().quarantine().length === 0, 'both are dismissed in memory');
    // A tampered version is set aside with no content: its list was saved at once, after the two above.
    const third = await forged(3);
    const tampered = server.serve({ ...third, ct: flipByte(third.ct, -5, 1) });
    engine().onFrame({
      t: 'changes',
      docs: [tampered],
      streams: [{ stream: LAB, checkpoint: tampered.seq }],
    } as never);
    await until(
      () =>
        engine()
          .quarantine()
          .some((q) => q.id === idOf(3)),
      'the tampered version is set aside',
    );
    gate.closed = false;
    for (const release of gate.waiters.splice(0)) release();
    await dismissed;
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
    const listed = engine()
      .quarantine()
      .map((q) => [q.id, q.reason]);
    expect(listed).toEqual([[idOf(3), 'TAMPERED']]);
    const saved = ((await d.meta().get('quarantine', SYNC_STATE.quarantine)) ?? []).map((q) => [
      q.id,
      q.reason,
    ]);
    expect(saved).toEqual(listed);
  });
});
