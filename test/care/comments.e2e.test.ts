// The patient's own comment beside a clinician's signed note, both parties present on a real server: the
// note stays as signed on both sides, the clinician (granted the comment kind) reads the comment, and the
// comment stays its writer's: the clinician's library refuses a change or removal (NOT_AUTHOR), and so does
// the server for a raw push that skips that check.
import { describe, expect, it } from 'vitest';
import { SUPPORTED_VERSIONS, type PushedFrame } from '@hale/protocol';
import { connect, makeDoc } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { eventually } from '../support/devices';
import { careDevice, share } from './care-devices';

describe("the patient's comment on a clinician's signed note", () => {
  const server = useServer({ realClock: true });

  it('is kept beside the note, read by the clinician, and refused to anyone but its writer', async () => {
    const t = server.t;
    const patient = await careDevice(t, server.sessions, 'patient');
    const clinician = await careDevice(t, server.sessions, 'provider');
    await share(patient, clinician, ['note', 'comment']);
    const P = patient.account.accountId;
    const at = { patientId: P };

    const note = await clinician.hale.records.add(
      'MedicalNote',
      { title: 'Follow-up', noteType: 'progress', currentVersionNumber: 1, status: 'signed' },
      at,
    );
    await clinician.hale.records.add(
      'NoteVersion',
      { noteId: note.id, versionNumber: 1, kind: 'original', plan: 'Stop amlodipine in April.' },
      at,
    );
    await clinician.hale.sync.awaitInSync();
    await eventually(
      async () => (await patient.hale.records.get(note.id)) !== null,
      'the patient holds the note',
    );
    const signed = (await patient.hale.records.get(note.id))!;
    // The patient may not change it: a comment is what the app offers beside "Ask for a correction".
    await expect(
      patient.hale.records.update('MedicalNote', note.id, { title: 'Mine' }),
    ).rejects.toMatchObject({
      code: 'NOT_AUTHOR',
    });

    const comment = await patient.hale.records.add(
      'Comment',
      {
        about: note.id,
        aboutKind: 'MedicalNote',
        text: 'I stopped the tablets in March, not April.',
        writtenAt: new Date().toISOString(),
      },
      at,
    );
    await patient.hale.sync.awaitInSync();
    await eventually(
      async () => (await clinician.hale.records.get<'Comment'>(comment.id))?.record.text === comment.text,
      'the clinician reads the comment',
    );
    const seen = (await clinician.hale.records.get<'Comment'>(comment.id))!;
    expect(seen.by).toBe(P);
    expect(seen.record).toMatchObject({ about: note.id, aboutKind: 'MedicalNote' });

    // The note is unchanged on both sides.
    for (const side of [patient, clinician]) {
      const held = (await side.hale.records.get(note.id))!;
      expect(held.rv, side.account.role).toBe(signed.rv);
      expect(held.record, side.account.role).toEqual(signed.record);
      expect(held.by).toBe(clinician.account.accountId);
    }

    // The clinician may not change or remove the patient's comment (its library, then the server).
    await expect(
      clinician.hale.records.update('Comment', comment.id, { text: 'Edited by the clinic.' }),
    ).rejects.toMatchObject({ code: 'NOT_AUTHOR' });
    await expect(clinician.hale.records.remove(comment.id)).rejects.toMatchObject({ code: 'NOT_AUTHOR' });
    expect(clinician.hale.sync.state.get().pendingWrites).toBe(0);
    const raw = await connect(t, clinician.account.device, { versions: [...SUPPORTED_VERSIONS] });
    const now = new Date().toISOString();
    const forged = await makeDoc(
      patient.account,
      clinician.account.device,
      'comment',
      {
        kind: 'Comment',
        updatedAt: now,
        by: clinician.account.accountId,
        data: { ...seen.record, text: 'Edited by the clinic.', updatedAt: now },
        conflict: false,
        conflictData: null,
      },
      { id: comment.id, rv: seen.rv + 1 },
    );
    const assumedRev = (await t.store.docs.getDoc(`${P}/comment`, comment.id))!.rev;
    const [answer] = (
      await raw.request<PushedFrame>({ t: 'push', rid: raw.rid(), rows: [{ doc: forged, assumedRev }] })
    ).results;
    expect(answer).toMatchObject({ status: 'error', code: 'NOT_AUTHOR' });
    await raw.close();

    // Its writer edits it, and the clinician reads the edit; then removes it.
    await patient.hale.records.update('Comment', comment.id, { text: 'Stopped in March.' });
    await patient.hale.sync.awaitInSync();
    await eventually(
      async () =>
        (await clinician.hale.records.get<'Comment'>(comment.id))?.record.text === 'Stopped in March.',
      'the clinician reads the edit',
    );
    await patient.hale.records.remove(comment.id);
    await patient.hale.sync.awaitInSync();
    await eventually(
      async () => (await clinician.hale.records.get(comment.id)) === null,
      'the removal reaches the clinician',
    );
    expect((await clinician.hale.records.get(note.id))!.rv).toBe(signed.rv);
  });
});
