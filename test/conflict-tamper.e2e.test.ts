import { describe, expect, it } from 'vitest';
import { canonicalJson } from '@hale/crypto';
import { registerAccount } from '@hale/sync-server/testing';
import { flipStoredCiphertext, storedCiphertext, useServer } from './support/fixture';
import { eventually, newDevice, openDevice, waitOnline } from './support/devices';
import { input } from './support/records';

describe('conflicts and tampering', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  it('concurrent offline edits of one record end in a state both devices agree on, with no content lost', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const second = await newDevice(t, patient);
    const a = await openDevice(t, patient);
    const b = await openDevice(t, patient, { device: second });
    sessions.push(a, b);
    const med = await a.records.add('Medication', input('Medication', { name: 'Lisinopril', dose: '10 mg' }));
    await eventually(async () => (await b.records.get(med.id)) !== null, 'b has the medication');

    a.sync.goOffline();
    b.sync.goOffline();
    await a.records.update('Medication', med.id, { dose: '20 mg', instructions: 'raised by cardiology' });
    await new Promise((r) => setTimeout(r, 5));
    await b.records.update('Medication', med.id, { dose: '5 mg', instructions: 'lowered after dizziness' });

    a.sync.goOnline();
    await eventually(() => a.sync.state().pendingWrites === 0, 'a pushes first');
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
    await b.records.resolveConflict<'Medication'>(med.id, 'other');
    await eventually(async () => {
      const x = await a.records.get<'Medication'>(med.id);
      return !!x && !x.conflict && x.record.dose === '20 mg';
    }, 'resolution reaches the first device');
  });

  it('a ciphertext altered in the server store is detected by the device and not applied', async () => {
    const t = server.t;
    const patient = await registerAccount(t);
    const a = await openDevice(t, patient);
    sessions.push(a);
    const good = await a.records.add('Allergy', input('Allergy', { substance: 'Peanut' }));
    const bad = await a.records.add('Allergy', input('Allergy', { substance: 'Shellfish' }));
    await eventually(() => a.sync.state().pendingWrites === 0, 'pushed');

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
    await eventually(() => b.sync.state().pendingWrites === 0, "b's version is on the server");
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
    expect(a.sync.state().pendingWrites).toBeGreaterThan(0);
    expect(Buffer.compare(storedCiphertext(t, med.id), ct)).toBe(0);
  });
});
