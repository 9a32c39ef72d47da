import { describe, expect, it } from 'vitest';
import { exampleRecord } from '@hale/model';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openPatientAndProvider, waitOnline } from '../support/devices';
import { input } from '../support/records';

// A grantee with write access to one stream holds its key and can seal anything into it. What the
// patient's device takes from a stream is decided by the model: a record of a kind that does not travel
// in the stream, or whose data the model does not validate, is quarantined (BAD_CONTENT), never applied.
describe('received records are checked against their stream and the model', () => {
  const server = useServer({ realClock: true });

  it('a lab-result write grant cannot put an Allergy (valid or not) into the patient record', async () => {
    const t = server.t;
    const { provider, p, d } = await openPatientAndProvider(t, server.sessions);
    await waitOnline(d);
    await p.consent.verifyProvider(provider.accountId);
    await p.consent.grant({
      granteeId: provider.accountId,
      scope: [{ type: 'lab-result', access: 'write' }],
      durationMs: 3_600_000,
      purpose: 'follow-up',
    });
    const patientId = p.account.accountId;
    const stream = `${patientId}/lab-result`;
    await eventually(() => d.engine.writable(stream), 'provider may write lab-result');

    // A modified provider client writes straight into its store (the server only sees ciphertext).
    const now = new Date().toISOString();
    const forged = {
      stream,
      kind: 'Allergy',
      patientId,
      updatedAt: now,
      rv: 1,
      epoch: 0,
      author: d.account.device.deviceId,
      by: provider.accountId,
      conflict: false,
      conflictData: null,
    };
    const INVALID = '01M7ZAPPM5277E610CBC288C4Z';
    const VALID = '01M7ZAPPM5277E610CBC288C50';
    await d.db.records.insert({
      ...forged,
      id: INVALID,
      data: { id: INVALID, patientId, note: 'no substance field' },
    });
    // A valid Allergy, labelled as such, but in the lab-result stream.
    await d.db.records.insert({
      ...forged,
      id: VALID,
      data: { ...exampleRecord('Allergy'), id: VALID, patientId, createdAt: now, updatedAt: now },
    });
    // And a genuine lab result through the records API, which the patient takes.
    const lab = await d.records.add('LabResult', input('LabResult'), { patientId });
    await allPushed(d);
    for (const id of [INVALID, VALID]) {
      await eventually(
        () => t.store.db.prepare('SELECT rev FROM docs WHERE id = ?').get(id) !== undefined,
        `server stored ${id}`,
      );
    }

    await eventually(
      async () => (await p.records.get(lab.id)) !== null,
      'patient took the genuine lab result',
    );
    await eventually(
      () => [INVALID, VALID].every((id) => p.sync.quarantine().some((q) => q.id === id)),
      'patient quarantined both forgeries',
    );
    expect(
      p.sync
        .quarantine()
        .filter((q) => q.id === INVALID || q.id === VALID)
        .map((q) => [q.id, q.stream, q.reason]),
    ).toEqual(
      expect.arrayContaining([
        [INVALID, stream, 'BAD_CONTENT'],
        [VALID, stream, 'BAD_CONTENT'],
      ]) as unknown,
    );
    expect(await p.records.query('Allergy')).toEqual([]);
    expect(await p.records.get(INVALID)).toBeNull();
    expect(await p.records.get(VALID)).toBeNull();
    expect((await p.records.query('LabResult')).map((r) => r.record.id)).toEqual([lab.id]);
  });
});
