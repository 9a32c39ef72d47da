import { afterEach, describe, expect, it } from 'vitest';
import type { KeyEnvelope, ServedDoc } from '@hale/protocol';
import { createDeviceMeta } from '../store/device-meta';
import { SyncError } from './connection';
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
import { closeOpened, openTestDb, opened, scriptedServer, settled, until } from './scripted-server.test-util';

// A dismissal is recorded through `auditDismissal` (the session appends it to the patient's audit log)
// before it is stored, and a refused one records nothing. A provider device reading two of a patient's
// streams from a scripted server (engine-quarantine-dismiss.test.ts's setup).

const ALLERGY = `${patient.accountId}/allergy`;
const LAB = `${patient.accountId}/lab-result`;
const idOf = (n: number) => `01J3000000000000000000${String(n).padStart(4, '0')}`;

const allergy = (n: number, rv = 1) => {
  const id = idOf(n);
  const data = dataOf('Allergy', id, patient.accountId, { substance: `substance ${n} at ${rv}` });
  delete data['reaction'];
  return servedRecord(record({ id, rv, data }));
};
const lab = (n: number, rv: number, value: number) => {
  const id = idOf(n);
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
/** A version whose ciphertext was altered (TAMPERED). */
const tampered = (doc: Omit<ServedDoc, 'seq' | 'at'>) => ({ ...doc, ct: flipByte(doc.ct, -5, 1) });

let dbCount = 0;
afterEach(closeOpened);

/**
 * One provider device whose `auditDismissal` notes each call with whether the dismissals were written
 * already, and answers as `answer` says (a rejection refuses the dismissal).
 */
const device = async (server: ReturnType<typeof scriptedServer>, envelopes: KeyEnvelope[]) => {
  const name = `dismiss-audit${++dbCount}`;
  const raw = new Map<string, unknown>();
  /** Writes of device meta that fail: how many more of each key (Infinity: every one). */
  const failing = new Map<string, number>();
  const meta = createDeviceMeta({
    read: async (key) => structuredClone(raw.get(key)),
    write: async (key, value) => {
      const left = failing.get(key) ?? 0;
      if (left > 0) {
        failing.set(key, left - 1);
        throw new Error(`cannot write ${key}`);
      }
      raw.set(key, structuredClone(value));
    },
  });
  const calls: Array<{ entries: DismissalAuditEntry[]; storedBefore: boolean }> = [];
  const hook = { answer: async (): Promise<void> => undefined };
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
    replicationId: `dismiss-audit-test-${name}`,
    meta,
    auditDismissal: async (entries) => {
      calls.push({ entries: [...entries], storedBefore: raw.has('quarantine-dismissed') });
      await hook.answer();
    },
  });
  opened.push({ engine, db });
  await engine.start();
  const reconnect = async (): Promise<void> => {
    engine.onStatus('offline');
    engine.onStatus('ready');
    await engine.onReady();
    await until(() => engine.state().status === 'online', 'online');
    await settled(engine);
  };
  await reconnect();
  const stored = async (id: string) => (await db.records.findOne(id).exec())?.toJSON() ?? null;
  return { engine, raw, failing, calls, hook, reconnect, stored };
};

const envelopeFor = async (stream: string) =>
  signedEnvelope(stream, 0, (await patientDeps.keyring.keyFor(stream, 0))!, provider);

const listedIds = (engine: SyncEngine) => engine.quarantine().map((q) => q.id);
const failureOf = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => null,
    (e: unknown) => e,
  );

describe('a dismissal in the audit log', () => {
  it('is recorded once per call before it is stored, naming each version; a refused call records nothing', async () => {
    const server = scriptedServer([ALLERGY, LAB]);
    const one = server.serve(tampered(await allergy(1)));
    const two = server.serve(tampered(await allergy(2)));
    const three = server.serve(tampered(await lab(3, 1, 98)));
    const d = await device(server, [await envelopeFor(ALLERGY), await envelopeFor(LAB)]);
    await until(() => d.engine.quarantine().length === 3, 'all three set aside');
    expect(d.calls).toEqual([]);

    // Refused: one named is not listed (beside one that is), or none is named.
    const unknown = { stream: ALLERGY, id: idOf(9), rev: one.rev };
    expect(await failureOf(d.engine.dismissQuarantined(one, unknown))).toBeInstanceOf(SyncError);
    await d.engine.dismissQuarantined();
    expect(d.calls).toEqual([]);
    expect(d.raw.has('quarantine-dismissed')).toBe(false);

    // Two streams of one patient, one version named twice: one entry, two versions, no single stream.
    await d.engine.dismissQuarantined(one, three, one);
    expect(listedIds(d.engine)).toEqual([two.id]);
    expect(d.calls).toEqual([
      {
        storedBefore: false,
        entries: [
          {
            patientId: patient.accountId,
            detail: {
              action: 'quarantine-dismiss',
              count: 2,
              summary: `dismissed 2 quarantined versions: allergy ${one.id} rev ${one.rev} TAMPERED; lab-result ${three.id} rev ${three.rev} TAMPERED`,
            },
          },
        ],
      },
    ]);

    await d.engine.dismissQuarantined(two);
    expect(d.calls).toHaveLength(2);
    expect(d.calls[1]?.entries).toEqual([
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
    // Dismissed already: refused, and not recorded again.
    expect(await failureOf(d.engine.dismissQuarantined(two))).toMatchObject({ code: 'NOT_QUARANTINED' });
    expect(d.calls).toHaveLength(2);
  });

  it('that cannot be recorded does not happen: the error is passed on and the entry stays listed', async () => {
    const server = scriptedServer([ALLERGY]);
    const one = server.serve(tampered(await allergy(1)));
    const d = await device(server, [await envelopeFor(ALLERGY)]);
    await until(() => d.engine.quarantine().length === 1, 'set aside');
    const written = d.raw.get('quarantine');
    const refusal = new SyncError('DISMISSAL_NOT_AUDITED', 'not recorded', true);
    d.hook.answer = () => Promise.reject(refusal);

    expect(await failureOf(d.engine.dismissQuarantined(one))).toBe(refusal);
    expect(listedIds(d.engine)).toEqual([one.id]);
    expect(d.engine.state().quarantined).toBe(1);
    expect(d.raw.has('quarantine-dismissed')).toBe(false);
    expect(d.raw.get('quarantine')).toEqual(written);

    // Recorded the next time, it is dismissed.
    d.hook.answer = async () => undefined;
    await d.engine.dismissQuarantined(one);
    expect(listedIds(d.engine)).toEqual([]);
    expect(d.calls.map((c) => c.entries[0]?.detail.count)).toEqual([1, 1]);
  });

  it('recorded, is stored even when the first write of the dismissals fails', async () => {
    const server = scriptedServer([ALLERGY]);
    const one = server.serve(tampered(await allergy(1)));
    const d = await device(server, [await envelopeFor(ALLERGY)]);
    await until(() => d.engine.quarantine().length === 1, 'set aside');
    d.failing.set('quarantine-dismissed', 1);

    await d.engine.dismissQuarantined(one);
    expect(listedIds(d.engine)).toEqual([]);
    expect(d.calls).toHaveLength(1);
    expect(d.raw.get('quarantine-dismissed')).toMatchObject([
      { id: one.id, rev: one.rev, reason: 'TAMPERED' },
    ]);
  });

  it('recorded and then not stored, is not recorded again when dismissed again', async () => {
    const server = scriptedServer([ALLERGY]);
    const one = server.serve(tampered(await allergy(1)));
    const two = server.serve(tampered(await allergy(2)));
    const d = await device(server, [await envelopeFor(ALLERGY)]);
    await until(() => d.engine.quarantine().length === 2, 'set aside');
    const written = d.raw.get('quarantine');
    d.failing.set('quarantine-dismissed', Infinity);

    // Every write fails: the call rejects with the write's error and nothing is dismissed here.
    expect(await failureOf(d.engine.dismissQuarantined(one))).toMatchObject({
      message: 'cannot write quarantine-dismissed',
    });
    expect(d.calls).toHaveLength(1);
    expect(listedIds(d.engine)).toEqual([one.id, two.id]);
    expect(d.raw.has('quarantine-dismissed')).toBe(false);
    expect(d.raw.get('quarantine')).toEqual(written);

    // Dismissed again once writes work: stored, with no second entry in the log.
    d.failing.clear();
    await d.engine.dismissQuarantined(one);
    expect(listedIds(d.engine)).toEqual([two.id]);
    expect(d.calls).toHaveLength(1);

    // The same failure before another call: the version recorded is stored with the next dismissal,
    // which records only its own.
    d.failing.set('quarantine-dismissed', Infinity);
    const three = server.serve(tampered(await allergy(3)));
    await d.reconnect();
    await until(() => d.engine.quarantine().length === 2, 'the third set aside');
    expect(await failureOf(d.engine.dismissQuarantined(two))).toBeInstanceOf(Error);
    d.failing.clear();
    await d.engine.dismissQuarantined(three);
    expect(listedIds(d.engine)).toEqual([]);
    expect(d.calls.map((c) => c.entries[0]?.detail.summary)).toEqual([
      expect.stringContaining(one.id),
      expect.stringContaining(two.id),
      expect.stringContaining(three.id),
    ]);
    expect(d.calls[2]?.entries[0]?.detail.count).toBe(1);
  });

  it('names the verified signer of a version refused BAD_TRANSITION, nothing of its content', async () => {
    const server = scriptedServer([LAB]);
    const held = server.serve(await lab(1, 1, 98));
    const d = await device(server, [await envelopeFor(LAB)]);
    await until(async () => (await d.stored(held.id)) !== null, 'the lab result is stored');
    // Its value changed in place, not as its next version: set aside with its content kept.
    const forged = server.serve(await lab(1, 2, 140));
    await d.reconnect();
    await until(() => d.engine.quarantine().length === 1, 'set aside');
    expect(d.engine.quarantine()[0]).toMatchObject({ reason: 'BAD_TRANSITION', content: { kept: true } });

    await d.engine.dismissQuarantined(forged);
    const summary = d.calls[0]?.entries[0]?.detail.summary;
    expect(summary).toBe(
      `dismissed 1 quarantined version: lab-result ${forged.id} rev ${forged.rev} BAD_TRANSITION by ${patient.accountId}`,
    );
    // The value (140) is nowhere in it; the random tag, id and account id may hold those digits by chance.
    const rest = summary?.replace(forged.rev, '').replace(forged.id, '').replace(patient.accountId, '');
    expect(rest).not.toContain('140');
  });
});
