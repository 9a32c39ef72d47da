import { afterEach, describe, expect, it, vi } from 'vitest';
import { EXAMPLE_PATIENT_ID, exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import { closeRecordDbs, pulledSide, setupRecords, storeMerged } from './records.test-util';
import {
  noteVersionRules,
  readNoteVersionContexts,
  removalRules,
  type NoteVersionContext,
} from './removal-rules';

afterEach(closeRecordDbs);

const OTHER_PATIENT = 'OtherPatient0000000001';
const version = exampleRecord('NoteVersion');
const n = version.versionNumber;
const noteAt = (status: RecordOf<'MedicalNote'>['status'], current: number) => ({
  ...exampleRecord('MedicalNote'),
  id: version.noteId,
  status,
  currentVersionNumber: current,
});
const signature = (versionId: string, status: RecordOf<'NoteSignature'>['status'] = 'signed') => ({
  ...exampleRecord('NoteSignature'),
  noteVersionId: versionId,
  status,
});
/** The rules as [field, holds], in the order the records API names them. */
const rules = (context: NoteVersionContext) =>
  noteVersionRules(version.id, version, context).map((r) => [r.field, r.holds]);

describe('removal rules', () => {
  it('a signed signature is final for good, a signed or amended note in its state; others may go', () => {
    const judged = (kind: string, status: string) => removalRules(kind, { status }).map((r) => r.holds);
    expect({
      signedSignature: judged('NoteSignature', 'signed'),
      requestedSignature: judged('NoteSignature', 'requested'),
      signedNote: judged('MedicalNote', 'signed'),
      amendedNote: judged('MedicalNote', 'amended'),
      draftNote: judged('MedicalNote', 'draft'),
      finalLab: judged('LabResult', 'final'),
    }).toEqual({
      signedSignature: ['for-good'],
      requestedSignature: [],
      signedNote: ['this-state'],
      amendedNote: ['this-state'],
      draftNote: [],
      finalLab: [],
    });
  });

  it("a NoteVersion: the API's first refusal, and which refusals no later write undoes", () => {
    const none: never[] = [];
    expect({
      draftAtCurrent: rules({ note: noteAt('draft', n), signatures: [] }),
      signed: rules({ note: noteAt('draft', n), signatures: [signature(version.id)] }),
      otherVersionSigned: rules({ note: noteAt('draft', n), signatures: [signature('OtherVersion000001')] }),
      requested: rules({ note: noteAt('draft', n), signatures: [signature(version.id, 'requested')] }),
      noteNotHeld: rules({ note: null, signatures: [] }),
      behindDraft: rules({ note: noteAt('draft', n + 1), signatures: [] }),
      aheadOfDraft: rules({ note: noteAt('draft', n - 1), signatures: [] }),
      signedAtIt: rules({ note: noteAt('signed', n), signatures: [] }),
      amendedPastIt: rules({ note: noteAt('amended', n + 1), signatures: [] }),
      underReview: rules({ note: noteAt('under_review', n), signatures: [] }),
    }).toEqual({
      draftAtCurrent: none,
      signed: [['(record)', 'for-good']],
      otherVersionSigned: none,
      requested: none,
      noteNotHeld: [['noteId', 'as-held']],
      behindDraft: [['versionNumber', 'for-good']],
      aheadOfDraft: [['versionNumber', 'as-held']],
      signedAtIt: [['(record)', 'for-good']],
      amendedPastIt: [
        ['(record)', 'as-held'],
        ['versionNumber', 'for-good'],
      ],
      underReview: [['(record)', 'as-held']],
    });
  });
});

describe('readNoteVersionContexts', () => {
  const held = async () => {
    const { db } = await setupRecords();
    const store = async (kind: RecordKind, data: Readonly<Record<string, unknown>>) =>
      storeMerged(db, pulledSide(kind, data));
    return { db, store };
  };

  it("reads the notes once and each patient's signatures once, whatever the number of versions", async () => {
    const { db, store } = await held();
    const note = noteAt('draft', n);
    const second = { ...version, id: 'SecondVersion00000001', versionNumber: n + 1 };
    const theirs = { ...version, id: 'TheirVersion000000001', noteId: 'TheirNote000000000001' };
    await store('MedicalNote', note);
    await store('NoteSignature', signature(version.id));
    await store('NoteSignature', { ...signature(second.id, 'requested'), id: 'SecondSignature000001' });
    // The version of another patient names a note of this patient's: not its note.
    await store('MedicalNote', { ...note, id: theirs.noteId });
    const versions = [
      { id: version.id, patientId: EXAMPLE_PATIENT_ID, data: version },
      { id: second.id, patientId: EXAMPLE_PATIENT_ID, data: second },
      { id: theirs.id, patientId: OTHER_PATIENT, data: theirs },
    ];
    const find = vi.spyOn(db.records, 'find');
    const findByIds = vi.spyOn(db.records, 'findByIds');
    const contextOf = await readNoteVersionContexts(db.records, versions);
    const [first, next, other] = versions.map((v) => contextOf(v));
    expect({ find: find.mock.calls.length, findByIds: findByIds.mock.calls.length }).toEqual({
      find: 2,
      findByIds: 1,
    });
    expect({
      first: [first?.note?.['id'], first?.signatures.map((s) => s['status'])],
      next: [next?.note?.['id'], next?.signatures.map((s) => s['status'])],
      other: [other?.note ?? null, other?.signatures],
    }).toEqual({
      first: [note.id, ['signed']],
      next: [note.id, ['requested']],
      other: [null, []],
    });
  });

  it('reads nothing for no versions', async () => {
    const { db } = await held();
    const find = vi.spyOn(db.records, 'find');
    const findByIds = vi.spyOn(db.records, 'findByIds');
    await readNoteVersionContexts(db.records, []);
    expect(find.mock.calls.length + findByIds.mock.calls.length).toBe(0);
  });
});
