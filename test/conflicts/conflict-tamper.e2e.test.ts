import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import { registerAccount } from '@hale/sync-server/testing';
import { flipStoredCiphertext, storedCiphertext, useServer } from '../support/fixture';
import { eventually, newDevice, openDevice, waitOnline, allPushed, openTwoDevices } from '../support/devices';
import { input } from '../support/records';

describe('conflicts and tampering', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('concurrent offline edits of one record end in a state both devices agree on, with no content lost', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, sessions);
    const med = await a.records.add('Medication', input('Medication', { name: 'Lisinopril', dose: '10 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');

    a.sync.goOffline();
    b.sync.goOffline();
    await a.records.update('Medication', med.id, { dose: '20 mg', instructions: 'raised by cardiology' });
    await new Promise((r) => setTimeout(r, 5));
    await b.records.update('Medication', med.id, { dose: '5 mg', instructions: 'lowered after dizziness' });

    a.sync.goOnline();
    await allPushed(a, 'a pushes first');
    b.sync.goOnline();
    const agreed = async () => {
      const [x, y] = [await a.records.get<'Medication'>(med.id), await b.records.get<'Medication'>(med.id)];
      return (
        !!x &&
        !!y &&
        x.rv === y.rv &&
        x.conflict &&
        y.conflict &&
        canonicalJson(x.record) === canonicalJson(y.record)
      );
    };
    await eventually(agreed, 'both devices converge on the merged record');
    const final = (await a.records.get<'Medication'>(med.id))!;
    // The later edit (b's) is the record; a's edit is kept beside it, visible as a conflict.
    expect(final.record.dose).toBe('5 mg');
    expect(final.conflictData).toMatchObject({ dose: '20 mg', instructions: 'raised by cardiology' });
    // Same content on both devices (key order is not content: local and pulled copies may differ in it).
    expect(canonicalJson((await b.records.get(med.id))!.conflictData)).toBe(
      canonicalJson(final.conflictData),
    );

    // A person settles it on one device; the other follows.
    await b.records.resolveConflict<'Medication'>(med.id, 'other', {
      expectedRv: (await b.records.get(med.id))!.rv,
    });
    await eventually(async () => {
      const x = await a.records.get<'Medication'>(med.id);
      return !!x && !x.conflict && x.record.dose === '20 mg';
    }, 'resolution reaches the first device');
  });

  it('three devices editing one record offline: every side survives on every device', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const [d2, d3] = [await newDevice(t, patient), await newDevice(t, patient)];
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: d2 });
    const c = await openDevice(t, patient, { device: d3 });
    sessions.push(a, b, c);
    const med = await a.records.add('Medication', input('Medication', { name: 'Metoprolol', dose: '10 mg' }));
    await eventually(
      async () => (await b.records.get(med.id)) !== null && (await c.records.get(med.id)) !== null,
      'every device has the medication',
    );
    for (const s of [a, b, c]) s.sync.goOffline();
    const doses = ['20 mg', '5 mg', '1 mg'];
    for (const [i, s] of [a, b, c].entries()) {
      await s.records.update('Medication', med.id, { dose: doses[i]! });
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const s of [a, b, c]) {
      s.sync.goOnline();
      await allPushed(s, 'each pushes in turn');
    }
    const sides = (x: Record<string, unknown> | null): string[] => {
      if (x === null) return [];
      const { _earlierConflicts: earlier, ...own } = x;
      const others: unknown[] = Array.isArray(earlier) ? earlier : [];
      return [own, ...others].map((s) => String((s as { dose?: unknown }).dose));
    };
    const agreed = async () => {
      const all = await Promise.all([a, b, c].map((s) => s.records.get<'Medication'>(med.id)));
      return all.every(
        (x) =>
          x !== null && x.conflict && canonicalJson(x) === canonicalJson(all[0]) && x.record.dose === '1 mg',
      );
    };
    await eventually(agreed, 'all three devices converge on one merged record');
    const final = (await a.records.get<'Medication'>(med.id))!;
    // The last edit is the record; both earlier edits stay visible beside it.
    expect(sides(final.conflictData).sort()).toEqual(['20 mg', '5 mg']);

    // Settling once clears every side, on every device.
    await c.records.resolveConflict<'Medication'>(med.id, 'keep', {
      expectedRv: (await c.records.get(med.id))!.rv,
    });
    await eventually(async () => {
      const all = await Promise.all([a, b].map((s) => s.records.get<'Medication'>(med.id)));
      return all.every(
        (x) => x !== null && !x.conflict && x.conflictData === null && x.record.dose === '1 mg',
      );
    }, 'the settlement reaches the other devices');
  });

  it('an update builds on an edit pulled between its read and its write, never writes over it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const { a, b } = await openTwoDevices(t, patient, sessions);
    const med = await a.records.add('Medication', input('Medication', { name: 'Warfarin', dose: '10 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');

    // Open the window between b's read of the record and its write: a's edit arrives by live sync then.
    const collection = b.db.records;
    const findOne = collection.findOne.bind(collection);
    let raced = false;
    collection.findOne = (...args: Parameters<typeof findOne>) => {
      const query = findOne(...args);
      if (raced) return query;
      raced = true;
      const exec = query.exec.bind(query);
      // RxDB caches queries, so this object is also what later findOne(id) calls return: restore first.
      query.exec = (async () => {
        query.exec = exec;
        const doc = await exec();
        await a.records.update('Medication', med.id, { instructions: 'stop if dizzy' });
        await eventually(
          async () => (await findOne(med.id).exec())?.data['instructions'] === 'stop if dizzy',
          "a's edit lands on b",
        );
        return doc;
      }) as typeof query.exec;
      return query;
    };
    await b.records.update('Medication', med.id, { dose: '20 mg' });
    collection.findOne = findOne;

    for (const s of [a, b]) {
      await eventually(async () => {
        const x = await s.records.get<'Medication'>(med.id);
        return (
          x?.record.dose === '20 mg' &&
          x.record.instructions === 'stop if dizzy' &&
          s.sync.state().pendingWrites === 0
        );
      }, 'both edits, on both devices');
    }
    expect((await a.records.get(med.id))!.conflict).toBe(false);
  });

  it('a ciphertext altered in the server store is detected by the device and not applied', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    const good = await a.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    const bad = await a.records.add('Allergy', input('Allergy', { substance: 'Shellfish' }));
    await allPushed(a, 'pushed');

    const ct = flipStoredCiphertext(t, bad.id);

    const second = await newDevice(t, patient);
    const b = await openDevice(t, patient, { device: second });
    sessions.push(b);
    await waitOnline(b);
    await eventually(async () => (await b.records.get(good.id)) !== null, 'the intact record arrives');
    expect(await b.records.get(bad.id)).toBeNull();
    const q = b.sync.quarantine();
    expect(q).toHaveLength(1);
    expect(q[0]).toMatchObject({ id: bad.id, reason: 'TAMPERED' });
    expect(b.sync.state().errors.some((e) => e.code === 'QUARANTINED' && e.id === bad.id)).toBe(true);
    // The device never wrote over server state: the stored (tampered) row is untouched by it.
    expect(Buffer.compare(storedCiphertext(t, bad.id), ct)).toBe(0);
  });

  it('an offline edit that meets a tampered server version is kept locally and never written over it', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: await newDevice(t, patient) });
    sessions.push(a, b);
    const med = await a.records.add('Medication', input('Medication', { name: 'Lisinopril', dose: '10 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');

    a.sync.goOffline();
    await b.records.update('Medication', med.id, { dose: '5 mg' });
    await allPushed(b, "b's version is on the server");
    const ct = flipStoredCiphertext(t, med.id);
    await a.records.update('Medication', med.id, { dose: '20 mg' });
    a.sync.goOnline();

    // a's push meets the server's (altered) version as a conflict: it cannot open it, so it quarantines
    // it and says so, keeps its own edit, and sends nothing over it.
    await eventually(
      () => a.sync.state().errors.some((e) => e.code === 'CONFLICT_UNREADABLE' && e.id === med.id),
      'the unreadable conflict is reported',
    );
    expect(a.sync.quarantine().map((q) => q.id)).toContain(med.id);
    expect((await a.records.get<'Medication'>(med.id))?.record.dose).toBe('20 mg');
    // RxDB takes the row as pushed and will not send it again: it is not pending but kept in unsent, so
    // the edit survives whatever version is pulled next.
    expect(a.sync.state().pendingWrites).toBe(0);
    expect(a.sync.unsent()).toMatchObject([
      { id: med.id, code: 'CONFLICT_UNREADABLE', data: { dose: '20 mg' } },
    ]);
    expect(Buffer.compare(storedCiphertext(t, med.id), ct)).toBe(0);
  });
});
