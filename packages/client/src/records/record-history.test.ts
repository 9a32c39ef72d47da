// One record's history in one shape: versioned kinds from `versions`, a note from its NoteVersions,
// any other kind as its current state.
import { describe, expect, it } from 'vitest';
import { exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import type { StoredRecord } from './records';
import { historyOf } from './record-history';

const stored = <K extends RecordKind>(kind: K, record: RecordOf<K>): StoredRecord<K> => ({
  kind,
  record,
  author: 'DevA000000000000000001',
  by: 'WriterAccount000000001',
  conflict: false,
  conflictData: null,
  rv: 3,
});

describe('historyOf', () => {
  it('a lab result: the current version first, then the superseded ones, each with provenance', () => {
    const lab = exampleRecord('LabResult');
    const history = historyOf(stored('LabResult', lab));
    expect(history.versions.map((v) => [v.version, v.current, v.at, v.reason])).toEqual([
      [2, true, lab.provenance.at, 'Transcription error in value'],
      [1, false, lab.versions[0]!.provenance.at, 'Initial result'],
    ]);
    expect(history.versions[0]?.by).toBe(lab.provenance.by);
    expect(history.versions[0]?.content['value']).toBe(98);
    expect(history.versions[1]?.content['value']).toBe(89);
  });

  it('a document: uploads and change notes', () => {
    const doc = exampleRecord('HealthDocument');
    const history = historyOf(stored('HealthDocument', doc));
    expect(history.versions.map((v) => [v.version, v.at, v.by, v.reason])).toEqual([
      [2, doc.uploadedAt, doc.uploadedBy, null],
      [1, doc.versions[0]!.uploadedAt, doc.versions[0]!.uploadedBy, 'First scan.'],
    ]);
  });

  it("a note: its NoteVersions held, newest first, the note's current one marked", () => {
    const note = exampleRecord('MedicalNote', { currentVersionNumber: 2 });
    const {
      changeSummary: _c,
      amendmentReason: _a,
      ...first
    } = exampleRecord('NoteVersion', {
      noteId: note.id,
      versionNumber: 1,
      kind: 'original',
    });
    const v1: RecordOf<'NoteVersion'> = first;
    const v2 = exampleRecord('NoteVersion', { noteId: note.id, versionNumber: 2 });
    const other = exampleRecord('NoteVersion', { versionNumber: 7 });
    const history = historyOf(stored('MedicalNote', note), [
      stored('NoteVersion', v1),
      stored('NoteVersion', other),
      stored('NoteVersion', v2),
    ]);
    expect(history.versions.map((v) => [v.version, v.current, v.reason])).toEqual([
      [2, true, 'Corrected heart rate.'],
      [1, false, null],
    ]);
    expect(history.versions[0]?.content['assessment']).toBe(v2.assessment);
  });

  it('any other kind: its current state only, dated by its last change', () => {
    const allergy = exampleRecord('Allergy');
    expect(historyOf(stored('Allergy', allergy)).versions).toEqual([
      {
        version: 1,
        current: true,
        at: allergy.updatedAt,
        by: 'WriterAccount000000001',
        reason: null,
        content: allergy,
      },
    ]);
  });
});
