import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, ServedDoc } from '@hale/protocol';
import type { DeviceDb } from '../store/device-db';
import { createDeviceMeta } from '../store/device-meta';
import { createSyncEngine, type SyncEngine } from './engine';
import {
  dataOf,
  deviceKey,
  ed,
  flipByte,
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
import {
  closeOpened,
  openTestDb,
  opened,
  scriptedServer,
  settled,
  stopAndClose,
  until,
} from './scripted-server.test-util';

// A quarantine entry answered by a newer version of its record, across a restart: the device stored the
// newer version, and the process ended before the list without the entry was written.

const STREAM = `${patient.accountId}/allergy`;
const ID = '01J20000000000000000000001';

const allergy = async (rv: number, substance: string): Promise<Omit<ServedDoc, 'seq' | 'at'>> => {
  const updatedAt = `2026-01-0${rv}T00:00:00.000Z`;
  const r = record({
    id: ID,
    rv,
    updatedAt,
    data: dataOf('Allergy', ID, patient.accountId, { substance, updatedAt }),
  });
  return servedRecord(r);
};

afterEach(closeOpened);

let dbCount = 0;
/** A provider device; `raw` is its metadata, which a restart finds as the last write left it. */
const device = (server: ReturnType<typeof scriptedServer>, envelopes: KeyEnvelope[]) => {
  const name = `quarantine-restart${++dbCount}`;
  const raw = new Map<string, unknown>();
  /** While set, writes of these keys are lost (the process ends before they land). */
  const lost = new Set<string>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      if (!lost.has(key)) raw.set(key, structuredClone(value));
    },
  });
  let current: { engine: SyncEngine; db: DeviceDb } | null = null;
  const start = async (): Promise<SyncEngine> => {
    if (current) await stopAndClose(current);
    const db = await openTestDb(name);
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
      replicationId: `quarantine-restart-${name}`,
      meta,
    });
    current = { engine, db };
    opened.push(current);
    await engine.start();
    await connect();
    return engine;
  };
  const connect = async (): Promise<void> => {
    const engine = current!.engine;
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
  };
  const reconnect = async (): Promise<void> => {
    current!.engine.onStatus('offline');
    await connect();
  };
  /** Closes the app as soon as the store takes version `rv` of the record (before any timer runs). */
  const closeOnStore = (rv: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const d = current!;
      const sub = d.db.records.storageInstance.changeStream().subscribe((bulk) => {
        if (!bulk.events.some((e) => e.documentId === ID && e.documentData.rv === rv)) return;
        sub.unsubscribe();
        current = null;
        stopAndClose(d).then(resolve, reject);
      });
    });
  const stored = async () => (await current!.db.records.findOne(ID).exec())?.toJSON() ?? null;
  return { start, reconnect, stored, lost, closeOnStore, raw };
};

describe('a quarantine entry answered by a newer version', () => {
  it('leaves the list after a restart when the list without it was not written before the process ended', async () => {
    const server = scriptedServer([STREAM]);
    const sealed = await allergy(1, 'Latex');
    server.serve({ ...sealed, ct: flipByte(sealed.ct, -5, 1) });
    const d = device(server, [
      await signedEnvelope(STREAM, 0, (await patientDeps.keyring.keyFor(STREAM, 0))!, provider),
    ]);
    let engine = await d.start();
    await until(() => engine.quarantine().length === 1, 'the tampered version is set aside');
    expect(engine.quarantine()[0]?.reason).toBe('TAMPERED');
    await settled(engine);

    // The patient writes the record again; the device stores that version, and ends before the
    // quarantine list that no longer names the tampered one is written.
    d.lost.add('quarantine');
    server.serve(await allergy(2, 'Peanut'));
    await d.reconnect();
    await until(async () => (await d.stored())?.rv === 2, 'the newer version is stored');
    await until(() => engine.quarantine().length === 0, 'answered in memory');
    await settled(engine);

    d.lost.delete('quarantine');
    engine = await d.start();
    await settled(engine);
    expect((await d.stored())?.data['substance']).toBe('Peanut');
    expect(engine.quarantine()).toEqual([]);
    expect(engine.state().quarantined).toBe(0);
  });

  it('leaves the list after a restart when the app closed just as the newer version was stored', async () => {
    const server = scriptedServer([STREAM]);
    const sealed = await allergy(1, 'Latex');
    server.serve({ ...sealed, ct: flipByte(sealed.ct, -5, 1) });
    const d = device(server, [
      await signedEnvelope(STREAM, 0, (await patientDeps.keyring.keyFor(STREAM, 0))!, provider),
    ]);
    let engine = await d.start();
    await until(() => engine.quarantine().length === 1, 'the tampered version is set aside');
    await settled(engine);

    server.serve(await allergy(2, 'Peanut'));
    const closed = d.closeOnStore(2);
    engine.onStatus('offline');
    engine.onStatus('ready');
    await engine.onReady();
    await closed;
    // Written as the app closed, not only found at the next start.
    expect(d.raw.get('quarantine')).toEqual([]);

    engine = await d.start();
    await settled(engine);
    expect((await d.stored())?.data['substance']).toBe('Peanut');
    expect(engine.quarantine()).toEqual([]);
    expect(engine.state().quarantined).toBe(0);
  });

  it('stays after a restart when the store holds that very revision, not a newer one', async () => {
    const server = scriptedServer([STREAM]);
    const genuine = await allergy(1, 'Latex');
    server.serve(genuine);
    const d = device(server, [
      await signedEnvelope(STREAM, 0, (await patientDeps.keyring.keyFor(STREAM, 0))!, provider),
    ]);
    let engine = await d.start();
    await until(async () => (await d.stored())?.rv === 1, 'the genuine version is stored');
    // The server serves that revision again, altered: the store holds the genuine one, the entry stays.
    server.serve({ ...genuine, ct: flipByte(genuine.ct, -5, 1) });
    await d.reconnect();
    await until(() => engine.quarantine().length === 1, 'the altered copy is set aside');
    await settled(engine);
    engine = await d.start();
    await settled(engine);
    expect(engine.quarantine().map((q) => q.reason)).toEqual(['TAMPERED']);
  });
});
