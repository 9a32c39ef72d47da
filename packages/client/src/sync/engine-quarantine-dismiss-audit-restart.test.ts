import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, ServedDoc } from '@hale/protocol';
import type { DeviceDb } from '../store/device-db';
import { createDeviceMeta } from '../store/device-meta';
import { createSyncEngine, type SyncEngine } from './engine';
import type { DismissalAuditEntry } from './quarantine-dismiss-audit';
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

// A dismissal recorded in the audit log whose write then failed is remembered across a restart: the next
// start stores it before it lists anything, so the list agrees with the log; should the store refuse that
// too, dismissed again it is not recorded a second time, and it is stored with the next dismissals
// written, whichever they name. A provider device reading a patient's allergies from a scripted server,
// restarted over the same store and metadata.

const ALLERGY = `${patient.accountId}/allergy`;
const idOf = (n: number) => `01J3000000000000000000${String(n).padStart(4, '0')}`;

/** A version of allergy `n` whose ciphertext was altered (set aside TAMPERED). */
const tampered = async (n: number): Promise<Omit<ServedDoc, 'seq' | 'at'>> => {
  const id = idOf(n);
  const data = dataOf('Allergy', id, patient.accountId, { substance: `substance ${n}` });
  const doc = await servedRecord(record({ id, rv: 1, data }));
  return { ...doc, ct: flipByte(doc.ct, -5, 1) };
};

let dbCount = 0;
afterEach(closeOpened);

/** One provider device whose metadata (`raw`) a restart finds as the last write left it. */
const device = (server: ReturnType<typeof scriptedServer>, envelopes: KeyEnvelope[]) => {
  const name = `dismiss-audit-restart${++dbCount}`;
  const raw = new Map<string, unknown>();
  /** Keys whose writes fail while listed. */
  const failing = new Set<string>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      if (failing.has(key)) throw new Error(`cannot write ${key}`);
      raw.set(key, structuredClone(value));
    },
  });
  /** What each `auditDismissal` call recorded, across restarts. */
  const calls: DismissalAuditEntry[][] = [];
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
      replicationId: `dismiss-audit-restart-${name}`,
      meta,
      auditDismissal: async (entries) => {
        calls.push([...entries]);
      },
    });
    current = { engine, db };
    opened.push(current);
    await engine.start();
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
    await settled(engine);
    return engine;
  };
  return { start, raw, failing, calls };
};

const listedIds = (engine: SyncEngine) => engine.quarantine().map((q) => q.id);

describe('a dismissal recorded in the audit log and not stored, across a restart', () => {
  /** A device with two versions set aside, whose dismissal of the first was recorded and not stored. */
  const recordedNotStored = async () => {
    const server = scriptedServer([ALLERGY]);
    const one = server.serve(await tampered(1));
    const two = server.serve(await tampered(2));
    const d = device(server, [
      await signedEnvelope(ALLERGY, 0, (await patientDeps.keyring.keyFor(ALLERGY, 0))!, provider),
    ]);
    const engine = await d.start();
    await until(() => engine.quarantine().length === 2, 'both set aside');
    // Recorded, then every write of the dismissals fails: the call rejects, the entry stays listed.
    d.failing.add('quarantine-dismissed');
    await expect(engine.dismissQuarantined(one)).rejects.toThrow('cannot write quarantine-dismissed');
    expect(d.calls).toHaveLength(1);
    expect(d.raw.has('quarantine-dismissed')).toBe(false);
    expect(listedIds(engine)).toEqual([one.id, two.id]);
    return { d, one, two };
  };

  it('is stored by the next start before it lists anything, and not recorded again', async () => {
    const { d, one, two } = await recordedNotStored();
    // The app restarts; writes work again.
    d.failing.clear();
    let engine = await d.start();
    expect(listedIds(engine)).toEqual([two.id]);
    expect((d.raw.get('quarantine-dismissed') as Array<{ id: string }>).map((q) => q.id)).toEqual([one.id]);
    expect(d.raw.get('quarantine-dismiss-recorded')).toEqual([]);
    expect(d.calls).toHaveLength(1);

    // Stored: after another restart it is still not listed, and nothing more is recorded.
    engine = await d.start();
    expect(listedIds(engine)).toEqual([two.id]);
    expect(d.calls).toHaveLength(1);
  });

  it('refused at that start too: dismissed again, it is not recorded again, and both are stored', async () => {
    const { d, one, two } = await recordedNotStored();
    let engine = await d.start();
    expect(listedIds(engine)).toEqual([one.id, two.id]);
    d.failing.clear();

    // Dismissing both records only the one not recorded before; both are stored.
    await engine.dismissQuarantined(one, two);
    expect(d.calls).toHaveLength(2);
    expect(d.calls[1]).toEqual([
      {
        patientId: patient.accountId,
        detail: {
          action: 'quarantine-dismiss',
          count: 1,
          stream: ALLERGY,
          summary: `dismissed 1 quarantined version: allergy ${two.id} rev ${two.rev} TAMPERED`,
        },
      },
    ]);
    expect(listedIds(engine)).toEqual([]);
    expect((d.raw.get('quarantine-dismissed') as Array<{ id: string }>).map((q) => q.id).sort()).toEqual(
      [one.id, two.id].sort(),
    );
    expect(d.raw.get('quarantine-dismiss-recorded')).toEqual([]);

    engine = await d.start();
    expect(listedIds(engine)).toEqual([]);
    expect(d.calls).toHaveLength(2);
  });

  it('a stored dismissals list this build cannot read is not written over at start', async () => {
    const { d, one, two } = await recordedNotStored();
    // Written by a newer build meanwhile: not this build's shape.
    const unreadable = [{ stream: ALLERGY, id: one.id, rev: one.rev, reason: 42, at: { when: 'later' } }];
    d.raw.set('quarantine-dismissed', unreadable);
    d.failing.clear();
    const engine = await d.start();
    expect(d.raw.get('quarantine-dismissed')).toEqual(unreadable);
    expect(listedIds(engine)).toEqual([one.id, two.id]);
    expect(d.calls).toHaveLength(1);
  });

  it('refused at that start too: stored with the next dismissal, whichever entries it names', async () => {
    const { d, one, two } = await recordedNotStored();
    const engine = await d.start();
    d.failing.clear();

    await engine.dismissQuarantined(two);
    expect(d.calls.map((c) => c[0]?.detail.summary)).toEqual([
      expect.stringContaining(one.id),
      expect.stringContaining(two.id),
    ]);
    // The version recorded before the restart went with it: the log and the list agree.
    expect(listedIds(engine)).toEqual([]);
  });
});
