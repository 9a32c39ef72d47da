// The two sync-engine changes made while benchmarking, checked end to end (real server, sockets, RxDB):
// pulls keep going past short pages, and a device skips the server's echo of its own pushed versions
// without ever skipping a version it did not push.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import type { DeviceSession } from '@hale/client/advanced';
import { useServer } from '../support/fixture';
import { MAX_BATCH_DOCS } from '@hale/protocol';
import { eventually, newDevice, openDevice, waitOnline } from '../support/devices';
import { input } from '../support/records';
import { makeRecords } from './workload';

describe('sync engine paging and echo handling', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('a pull batch larger than the server page (MAX_BATCH_DOCS) still brings every record and ends online', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    const n = 2 * MAX_BATCH_DOCS + 300;
    const stream = `${patient.accountId}/allergy`;
    await a.db.records.bulkInsert(
      makeRecords(n, { accountId: patient.accountId, deviceId: patient.device.deviceId }),
    );
    await eventually(
      async () => ((await t.store.docs.streamHeads([stream]))[0]?.head ?? 0) >= n,
      'server has every record',
      30_000,
    );

    // RxDB ends a pull at the first page shorter than its batch size; the server caps pages at
    // MAX_BATCH_DOCS, so every page is short although the server is not drained. Three pages are more
    // than the two pulls a connecting device starts, so an engine that returned short pages stalls here.
    const second = await newDevice(t, patient);
    const b = await openDevice(t, patient, { device: second, batchSize: MAX_BATCH_DOCS + 500 });
    sessions.push(b);
    await eventually(
      async () => (await b.db.records.count({ selector: { stream } }).exec()) === n,
      `second device holds all ${n} records`,
      30_000,
    );
    await waitOnline(b);

    // Subscribed after the pull: a later write arrives live.
    const later = await a.records.add('Allergy', input('Allergy', { substance: 'Latex' }));
    await eventually(async () => (await b.records.get(later.id)) !== null, 'live write arrives');
  }, 60_000);

  /** Rewrites the stored row of `id` (new seq, so it is served live) as a malicious server could. */
  const rewriteOnServer = async (stream: string, id: string, rev: (old: string) => string) => {
    const t = server.t;
    const stored = await t.store.docs.getDoc(stream, id);
    if (!stored) throw new Error('no stored doc');
    const ct = new Uint8Array(stored.ct);
    ct[ct.length - 5] = ct[ct.length - 5]! ^ 0x01;
    const { seq: _seq, at: _at, ...doc } = stored;
    const [result] = await t.store.docs.writeDocs(
      [{ doc: { ...doc, rev: rev(stored.rev), ct, size: ct.byteLength }, assumedRev: stored.rev }],
      new Date().toISOString(),
    );
    expect(result?.status).toBe('ok');
    // A new position in the stream, so the rewritten row is served live to subscribed devices.
    expect((await t.store.docs.getDoc(stream, id))?.seq).toBeGreaterThan(stored.seq);
  };

  /** Resolves once `device` applied a record written after everything before it in the same stream. */
  const drain = async (writer: DeviceSession, device: DeviceSession): Promise<void> => {
    const marker = await writer.records.add('Allergy', input('Allergy', { substance: 'Marker' }));
    await eventually(async () => (await device.records.get(marker.id)) !== null, 'marker arrives');
  };

  /** Two online devices of one patient; the first has pushed one allergy. */
  const pushedAllergy = async (substance: string) => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: await newDevice(t, patient) });
    sessions.push(a, b);
    await waitOnline(a);
    const mine = await a.records.add('Allergy', input('Allergy', { substance }));
    await eventually(() => a.sync.state().pendingWrites === 0, 'pushed');
    return { patient, a, b, mine };
  };

  it('the served copy of a version this device pushed is not decoded again, and the local record stays', async () => {
    const { patient, a, b, mine } = await pushedAllergy('Peanut');

    // Same id, author and revision tag as what `a` pushed, but a damaged ciphertext: `a` already holds
    // exactly this version, so it neither opens nor applies it.
    await rewriteOnServer(`${patient.accountId}/allergy`, mine.id, (rev) => rev);
    await drain(b, a);
    expect(a.sync.quarantine()).toEqual([]);
    expect((await a.records.get<'Allergy'>(mine.id))?.record.substance).toBe('Peanut');
  });

  it('a version claiming this device as author but never pushed by it is verified and quarantined', async () => {
    const { patient, a, b, mine } = await pushedAllergy('Shellfish');

    await rewriteOnServer(`${patient.accountId}/allergy`, mine.id, () => `2-${'0'.repeat(24)}`);
    await drain(b, a);
    expect(a.sync.quarantine()).toMatchObject([{ id: mine.id, reason: 'TAMPERED' }]);
    expect((await a.records.get<'Allergy'>(mine.id))?.record.substance).toBe('Shellfish');
  });
});
