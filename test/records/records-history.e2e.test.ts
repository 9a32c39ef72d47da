// Clinical history across devices: a provider's change of a patient's lab result arrives as the next
// version naming the provider, the patient's version kept; a note the provider signed cannot be
// rewritten, removed or counter-signed in the provider's name on the patient's device; and a provider's
// lists show the patient asked for, not every chart the device holds.
import { describe, expect, it } from 'vitest';
import { registerAccount } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { allPushed, eventually, openDevice, waitOnline } from '../support/devices';
import { input, recordRefusal } from '../support/records';

const HOUR = 3_600_000;

describe('records: clinical history and authorship across devices', () => {
  const server = useServer({ realClock: true });
  const sessions = server.sessions;

  const patientAndProvider = async (scope: Array<'lab-result' | 'note' | 'note-signature'>) => {
    const t = server.t;
    const patient = await registerAccount(t);
    const provider = await registerAccount(t, 'provider');
    const p = await openDevice(t, patient);
    const d = await openDevice(t, provider);
    sessions.push(p, d);
    await Promise.all([waitOnline(p), waitOnline(d)]);
    await p.consent.verifyProvider(provider.accountId);
    await p.consent.grant({
      granteeId: provider.accountId,
      scope: scope.map((type) => ({ type, access: 'write' as const })),
      durationMs: HOUR,
      purpose: 'follow-up',
    });
    for (const type of scope) {
      await eventually(() => d.engine.writable(`${patient.accountId}/${type}`), `provider may write ${type}`);
    }
    return { patient, provider, p, d };
  };

  it("a provider's correction reaches the patient as the next version, naming the provider, the patient's version kept", async () => {
    const { patient, provider, p, d } = await patientAndProvider(['lab-result']);
    const patientId = patient.accountId;
    // Entered by the patient (author fields given as this device's, which every build accepts).
    const lab = await p.records.add('LabResult', {
      ...input('LabResult', { value: 12, units: 'mmol/L' }),
      version: 1,
      versions: [],
      provenance: { by: patientId, deviceId: patient.device.deviceId, at: new Date().toISOString() },
    });
    await eventually(async () => (await d.records.get(lab.id)) !== null, 'provider has the lab result');

    await d.records.update(
      'LabResult',
      lab.id,
      { value: 216, units: 'mg/dL' },
      { reason: 'Units corrected' },
    );
    await allPushed(d);
    await eventually(
      async () => (await p.records.get<'LabResult'>(lab.id))?.record.version === 2,
      'the correction arrives',
    );
    const got = (await p.records.get<'LabResult'>(lab.id))!;
    expect({
      by: got.by,
      value: [got.record.value, got.record.units],
      provenance: [got.record.provenance.by, got.record.provenance.deviceId, got.record.provenance.reason],
      history: got.record.versions.map((v) => [v.version, v.value, v.units, v.provenance.by]),
    }).toEqual({
      by: provider.accountId,
      value: [216, 'mg/dL'],
      provenance: [provider.accountId, provider.device.deviceId, 'Units corrected'],
      history: [[1, 12, 'mmol/L', patientId]],
    });

    // The provider's device holds the patient's chart; its own list is its own account's.
    const ids = (list: ReadonlyArray<{ record: { id: string } }>) => list.map((r) => r.record.id);
    expect({
      own: ids(await d.records.query('LabResult')),
      patient: ids(await d.records.query('LabResult', { patientId })),
    }).toEqual({ own: [], patient: [lab.id] });
  });

  it('a note the provider signed cannot be rewritten, removed or signed in their name on the patient device', async () => {
    const { patient, provider, p, d } = await patientAndProvider(['note', 'note-signature']);
    const patientId = patient.accountId;
    const providerId = provider.accountId;
    const note = await d.records.add(
      'MedicalNote',
      { ...input('MedicalNote'), authorId: providerId, status: 'draft', currentVersionNumber: 1 },
      { patientId },
    );
    const { amendmentReason: _r, ...text } = input('NoteVersion');
    const version = await d.records.add(
      'NoteVersion',
      { ...text, noteId: note.id, versionNumber: 1, kind: 'original', editorId: providerId },
      { patientId },
    );
    const signature = await d.records.add(
      'NoteSignature',
      {
        ...input('NoteSignature'),
        noteId: note.id,
        noteVersionId: version.id,
        signerId: providerId,
        status: 'signed',
        signedVersionNumber: 1,
      },
      { patientId },
    );
    await d.records.update('MedicalNote', note.id, { status: 'signed' });
    await allPushed(d);
    await eventually(
      async () =>
        (await p.records.get(signature.id)) !== null &&
        (await p.records.get<'MedicalNote'>(note.id))?.record.status === 'signed',
      'the signed note arrives',
    );

    const refusals = {
      rewrite: await recordRefusal(
        p.records.update('NoteVersion', version.id, { assessment: 'Never signed.' }),
      ),
      remove: await recordRefusal(p.records.remove(version.id)),
      unsign: await recordRefusal(p.records.update('NoteSignature', signature.id, { status: 'declined' })),
      forge: await recordRefusal(
        p.records.add('NoteSignature', {
          ...input('NoteSignature'),
          noteId: note.id,
          noteVersionId: version.id,
          signerId: providerId,
          status: 'signed',
          signedVersionNumber: 1,
        }),
      ),
    };
    expect(Object.fromEntries(Object.entries(refusals).map(([k, e]) => [k, e.code]))).toEqual({
      rewrite: 'RECORD_FINAL',
      remove: 'RECORD_FINAL',
      unsign: 'RECORD_FINAL',
      forge: 'AUTHOR_MISMATCH',
    });
    expect((await p.records.get<'NoteVersion'>(version.id))?.record).toEqual(version);
    expect((await p.records.get<'NoteSignature'>(signature.id))?.record).toEqual(signature);
  });
});
