import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, ServedDoc } from '@hale/protocol';
import { generateStreamKey } from '@hale/crypto';
import type { DeviceDb } from '../store/device-db';
import { createDeviceMeta } from '../store/device-meta';
import { SyncError } from './connection';
import { createSyncEngine, type SyncEngine } from './engine';
import { encodeRecords } from './record-codec';
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

// Dismissing quarantine entries, against a scripted server: a provider device reading one of a patient's
// streams, restarted over the same store and metadata as an app is (engine-quarantine.test.ts's setup).

const ALLERGY = `${patient.accountId}/allergy`;
const LAB = `${patient.accountId}/lab-result`;
const idOf = (n: number) => `01J2000000000000000000${String(n).padStart(4, '0')}`;

/** Allergy `n` at revision `rv` as the patient's device writes it (its epoch-0 key unless `write`). */
const allergy = async (
  n: number,
  rv = 1,
  write?: { epoch: number; key: Uint8Array },
): Promise<Omit<ServedDoc, 'seq' | 'at'>> => {
  const id = idOf(n);
  const data = dataOf('Allergy', id, patient.accountId, { substance: `substance ${n} at ${rv}` });
  delete data['reaction'];
  const r = record({ id, rv, data });
  if (!write) return servedRecord(r);
  const [doc] = await encodeRecords({ ...patientDeps, offload: null }, [{ record: r, write }]);
  if (!doc) throw new Error('not sealed');
  return doc;
};
/** A version whose ciphertext was altered (TAMPERED). */
const tampered = (doc: Omit<ServedDoc, 'seq' | 'at'>) => ({ ...doc, ct: flipByte(doc.ct, -5, 1) });

let dbCount = 0;
afterEach(closeOpened);

/** One provider device (store and metadata `raw` survive a restart); `envelopes` is mutable. */
const device = (server: ReturnType<typeof scriptedServer>, envelopes: KeyEnvelope[]) => {
  const name = `dismiss${++dbCount}`;
  const raw = new Map<string, unknown>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      raw.set(key, structuredClone(value));
    },
  });
  let current: { engine: SyncEngine; db: DeviceDb } | null = null;
  const start = async (options: { maxDismissed?: number } = {}) => {
    if (current) await stop();
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
      replicationId: `dismiss-test-${name}`,
      meta,
      ...(options.maxDismissed ? { maxDismissed: options.maxDismissed } : {}),
    });
    current = { engine, db };
    opened.push(current);
    await engine.start();
    await reconnect();
    return engine;
  };
  /** The link (re)connects: the engine pulls from its positions and retries what is due. */
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
  return { start, reconnect, stop, stored, raw };
};

const envelopeFor = async (stream: string, epoch = 0, key?: Uint8Array) =>
  signedEnvelope(stream, epoch, key ?? (await patientDeps.keyring.keyFor(stream, 0))!, provider);

const listed = (engine: SyncEngine) => engine.quarantine().map((q) => [q.id, q.rev, q.reason]);
const reported = (engine: SyncEngine, id: string) =>
  engine.state().errors.filter((e) => e.code === 'QUARANTINED' && e.id === id).length;

describe('dismissing a quarantine entry', () => {
  it('takes it off the list and the count, persisted across a restart; the others stay', async () => {
    const server = scriptedServer([ALLERGY]);
    const one = server.serve(tampered(await allergy(1)));
    const two = server.serve(tampered(await allergy(2)));
    const d = device(server, [await envelopeFor(ALLERGY)]);
    let engine = await d.start();
    await until(() => engine.quarantine().length === 2, 'both set aside');
    await settled(engine);
    const listedBefore = d.raw.get('quarantine');
    expect(listedBefore).toHaveLength(2);

    await engine.dismissQuarantined(engine.quarantine()[0]!);
    expect(listed(engine)).toEqual([[two.id, two.rev, 'TAMPERED']]);
    expect(engine.state().quarantined).toBe(1);
    expect((d.raw.get('quarantine') as Array<{ id: string }>).map((q) => q.id)).toEqual([two.id]);
    const dismissals = d.raw.get('quarantine-dismissed') as Array<Record<string, unknown>>;
    expect(dismissals.map(({ at: _, ...rest }) => rest)).toEqual([
      { stream: ALLERGY, id: one.id, rev: one.rev, reason: 'TAMPERED' },
    ]);
    expect(typeof dismissals[0]?.['at']).toBe('string');

    engine = await d.start();
    expect(listed(engine)).toEqual([[two.id, two.rev, 'TAMPERED']]);
    expect(engine.state().quarantined).toBe(1);
    expect(await d.stored(one.id)).toBeNull();

    // Stopped after the dismissal was written and before the list was: the list still names it.
    await d.stop();
    d.raw.set('quarantine', listedBefore);
    engine = await d.start();
    expect(listed(engine)).toEqual([[two.id, two.rev, 'TAMPERED']]);
    expect(engine.state().quarantined).toBe(1);
  });

  it('the same version served again is neither listed nor reported again, nor applied; a newer revision is judged afresh', async () => {
    const server = scriptedServer([ALLERGY]);
    const altered = tampered(await allergy(1));
    const first = server.serve(altered);
    const d = device(server, [await envelopeFor(ALLERGY)]);
    let engine = await d.start();
    await until(() => engine.quarantine().length === 1, 'set aside');
    expect(reported(engine, first.id)).toBe(1);
    await engine.dismissQuarantined({ stream: first.stream, id: first.id, rev: first.rev });
    // The person has seen it: the warning ends with the entry.
    expect(reported(engine, first.id)).toBe(0);

    // Served again as the newest of the stream, then a readable record after it: once that one is stored,
    // the altered one was served and judged.
    server.serve(altered);
    const marker = server.serve(await allergy(2));
    await d.reconnect();
    await until(async () => (await d.stored(marker.id)) !== null, 'the record after it is stored');
    expect(listed(engine)).toEqual([]);
    expect(engine.state().quarantined).toBe(0);
    expect(reported(engine, first.id)).toBe(0);
    expect(await d.stored(first.id)).toBeNull();

    // After a restart, served once more: still out.
    engine = await d.start();
    server.serve(altered);
    const marker2 = server.serve(await allergy(3));
    await d.reconnect();
    await until(async () => (await d.stored(marker2.id)) !== null, 'the next record is stored');
    expect(listed(engine)).toEqual([]);
    expect(reported(engine, first.id)).toBe(0);
    expect(await d.stored(first.id)).toBeNull();

    // A newer revision of the record, altered too: judged, listed and reported as any other.
    const newer = server.serve(tampered(await allergy(1, 2)));
    await d.reconnect();
    await until(() => engine.quarantine().length === 1, 'the newer revision is set aside');
    expect(listed(engine)).toEqual([[newer.id, newer.rev, 'TAMPERED']]);
    expect(reported(engine, first.id)).toBe(1);
    // A genuine newer one is applied, and answers that entry.
    server.serve(await allergy(1, 3));
    await d.reconnect();
    await until(async () => (await d.stored(first.id))?.rv === 3, 'the genuine revision is applied');
    await until(() => engine.quarantine().length === 0, 'its entry answered');
  });

  it('stops the retry fetching a record set aside for a reason that can pass', async () => {
    const server = scriptedServer([ALLERGY]);
    // Sealed under epoch 1, whose envelope this device does not have.
    const key1 = generateStreamKey();
    const waiting = server.serve(await allergy(1, 1, { epoch: 1, key: key1 }));
    server.serve(await allergy(2));
    const envelopes = [await envelopeFor(ALLERGY)];
    const d = device(server, envelopes);
    const engine = await d.start();
    await until(() => engine.quarantine().length === 1, 'set aside NO_KEY');
    expect(listed(engine)).toEqual([[waiting.id, waiting.rev, 'NO_KEY']]);
    // Listed, it is fetched again at every reconnect.
    let from = server.pulls.length;
    await d.reconnect();
    expect(server.fetchedAgain(from)).toEqual([waiting.seq - 1]);

    await engine.dismissQuarantined(waiting);
    from = server.pulls.length;
    await d.reconnect();
    await d.reconnect();
    expect(server.fetchedAgain(from)).toEqual([]);
    expect(listed(engine)).toEqual([]);
  });

  it('a dismissed version refused later for another reason is listed and reported again', async () => {
    const server = scriptedServer([ALLERGY]);
    // Sealed under epoch 1, whose envelope this device does not have yet, and altered: NO_KEY now, TAMPERED
    // once the key arrives. Dismissing "cannot be checked yet" must not hide that it proves forged.
    const key1 = generateStreamKey();
    const altered = tampered(await allergy(1, 1, { epoch: 1, key: key1 }));
    const waiting = server.serve(altered);
    const envelopes = [await envelopeFor(ALLERGY)];
    const d = device(server, envelopes);
    let engine = await d.start();
    await until(() => engine.quarantine().length === 1, 'set aside NO_KEY');
    await engine.dismissQuarantined(waiting);
    expect(listed(engine)).toEqual([]);

    envelopes.push(await envelopeFor(ALLERGY, 1, key1));
    engine = await d.start();
    server.serve(altered);
    const marker = server.serve(await allergy(2));
    await d.reconnect();
    await until(async () => (await d.stored(marker.id)) !== null, 'the record after it is stored');
    expect(listed(engine)).toEqual([[waiting.id, waiting.rev, 'TAMPERED']]);
    expect(reported(engine, waiting.id)).toBe(1);
    expect(await d.stored(waiting.id)).toBeNull();
    // And it stays listed across a restart (the dismissal named the other reason).
    engine = await d.start();
    expect(listed(engine)).toEqual([[waiting.id, waiting.rev, 'TAMPERED']]);
  });

  it('an unknown entry is refused with NOT_QUARANTINED and nothing changes, also beside a known one', async () => {
    const server = scriptedServer([ALLERGY]);
    const one = server.serve(tampered(await allergy(1)));
    const d = device(server, [await envelopeFor(ALLERGY)]);
    const engine = await d.start();
    await until(() => engine.quarantine().length === 1, 'set aside');
    const written = d.raw.get('quarantine');

    const otherRev = (await allergy(1, 2)).rev;
    for (const call of [
      engine.dismissQuarantined({ stream: one.stream, id: one.id, rev: otherRev }),
      engine.dismissQuarantined(one, { stream: one.stream, id: idOf(9), rev: one.rev }),
      engine.dismissQuarantined({ stream: LAB, id: one.id, rev: one.rev }),
    ]) {
      const error: unknown = await call.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SyncError);
      expect(error).toMatchObject({ code: 'NOT_QUARANTINED', retry: false });
    }
    expect(listed(engine)).toEqual([[one.id, one.rev, 'TAMPERED']]);
    expect(engine.state().quarantined).toBe(1);
    expect(d.raw.get('quarantine')).toEqual(written);
    expect(d.raw.has('quarantine-dismissed')).toBe(false);

    // Dismissed once, it is unknown the second time.
    await engine.dismissQuarantined(one);
    await expect(engine.dismissQuarantined(one)).rejects.toMatchObject({ code: 'NOT_QUARANTINED' });
  });

  it('remembers at most maxDismissed versions, forgetting the oldest first', async () => {
    const server = scriptedServer([ALLERGY]);
    const versions = [];
    for (let n = 1; n <= 3; n++) versions.push(tampered(await allergy(n)));
    const served = versions.map((v) => server.serve(v));
    const d = device(server, [await envelopeFor(ALLERGY)]);
    let engine = await d.start({ maxDismissed: 2 });
    await until(() => engine.quarantine().length === 3, 'three set aside');
    for (const doc of served) await engine.dismissQuarantined(doc);
    expect(listed(engine)).toEqual([]);
    expect((d.raw.get('quarantine-dismissed') as Array<{ id: string }>).map((q) => q.id)).toEqual(
      served.slice(1).map((doc) => doc.id),
    );

    // All three served again after a restart: only the forgotten one is listed (and reported) again.
    engine = await d.start({ maxDismissed: 2 });
    for (const v of versions) server.serve(v);
    const marker = server.serve(await allergy(4));
    await d.reconnect();
    await until(async () => (await d.stored(marker.id)) !== null, 'the record after them is stored');
    expect(listed(engine)).toEqual([[served[0]!.id, served[0]!.rev, 'TAMPERED']]);
    expect(served.map((doc) => reported(engine, doc.id))).toEqual([1, 0, 0]);
  });
});

describe('a version refused BAD_TRANSITION, dismissed', () => {
  /** Lab result 1 at revision `rv` with `value`, as the patient's device signs it. */
  const lab = (rv: number, value: number) => {
    const id = idOf(1);
    return servedRecord(
      record({
        id,
        rv,
        stream: LAB,
        kind: 'LabResult',
        data: dataOf('LabResult', id, patient.accountId, { value, version: 1, versions: [] }),
      }),
    );
  };

  it('is refused again when served again, also while the local copy is not the server’s', async () => {
    const server = scriptedServer([LAB]);
    const held = server.serve(await lab(1, 98));
    const d = device(server, [await envelopeFor(LAB)]);
    const engine = await d.start();
    await until(async () => (await d.stored(held.id)) !== null, 'the lab result is stored');
    // Its value changed in place, not as its next version.
    const forged = await lab(2, 140);
    server.serve(forged);
    await d.reconnect();
    await until(() => engine.quarantine().length === 1, 'set aside');
    expect(listed(engine)).toEqual([[forged.id, forged.rev, 'BAD_TRANSITION']]);
    await engine.dismissQuarantined(forged);
    expect(reported(engine, forged.id)).toBe(0);

    // A local change of the record not acknowledged yet: the local copy is then not judged against, only
    // what this device remembers of the version refuses it.
    engine.notePending(held.id, 1);
    server.serve(forged);
    await d.reconnect();
    await settled(engine);
    expect(listed(engine)).toEqual([]);
    expect(reported(engine, forged.id)).toBe(0);
    expect(await d.stored(held.id)).toMatchObject({ rv: 1, data: { value: 98 } });
  });
});
