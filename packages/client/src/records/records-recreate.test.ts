// `add` under the id of a record removed on this device re-creates it: it continues the deleted record's
// history (its revision counter, and what a later write could make of its last state). A signed note that
// was re-opened as a draft at version 2 and removed must not come back at version 1, which would make its
// signed version 1 editable again.
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID } from '@hale/model';
import { closeRecordDbs, recordInput, recordRefusal, setupRecords } from './records.test-util';

afterEach(closeRecordDbs);

const signedThenRedrafted = async () => {
  const { records } = await setupRecords();
  const { id: _id, ...noteInput } = recordInput('MedicalNote', {
    authorId: EXAMPLE_PATIENT_ID,
    status: 'draft',
    currentVersionNumber: 1,
  });
  const note = await records.add('MedicalNote', noteInput);
  const { amendmentReason: _reason, id: _vid, ...versionInput } = recordInput('NoteVersion');
  const v1 = await records.add('NoteVersion', {
    ...versionInput,
    editorId: EXAMPLE_PATIENT_ID,
    noteId: note.id,
    versionNumber: 1,
    kind: 'original',
    assessment: 'Signed text.',
  });
  await records.update('MedicalNote', note.id, { status: 'signed' });
  await records.update('MedicalNote', note.id, { status: 'draft', currentVersionNumber: 2 });
  return { records, note, noteInput, v1 };
};

describe('add under the id of a removed record', () => {
  it('a note removed as a draft at version 2 does not come back at version 1: RECORD_FINAL, nothing written', async () => {
    const { records, note, noteInput, v1 } = await signedThenRedrafted();
    expect((await recordRefusal(records.update('NoteVersion', v1.id, { assessment: 'x' }))).code).toBe(
      'RECORD_FINAL',
    );
    await records.remove(note.id);
    const refused = await recordRefusal(
      records.add('MedicalNote', {
        ...noteInput,
        id: note.id,
        status: 'draft',
        currentVersionNumber: 1,
      }),
    );
    expect([refused.code, refused.field]).toEqual(['RECORD_FINAL', 'currentVersionNumber']);
    expect(await records.get(note.id)).toBeNull();
    // The signed text stays final.
    expect(
      (await recordRefusal(records.update('NoteVersion', v1.id, { assessment: 'rewritten' }))).code,
    ).toBe('RECORD_FINAL');
  });

  it('re-added as it was (an undo), it comes back', async () => {
    const { records, note, noteInput } = await signedThenRedrafted();
    await records.remove(note.id);
    const back = await records.add('MedicalNote', {
      ...noteInput,
      id: note.id,
      status: 'draft',
      currentVersionNumber: 2,
    });
    expect(back.currentVersionNumber).toBe(2);
    expect((await records.get(note.id))?.record).toMatchObject({ status: 'draft', currentVersionNumber: 2 });
  });
});
