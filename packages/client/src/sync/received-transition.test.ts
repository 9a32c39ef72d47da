import { describe, expect, it } from 'vitest';
import {
  EXAMPLE_DEVICE_ID,
  EXAMPLE_PATIENT_ID,
  EXAMPLE_PROVIDER_ID,
  exampleRecord,
  supersededVersion,
  type RecordKind,
  type RecordOf,
} from '@hale/model';
import { resolveRecordConflict } from '../records/conflicts';
import { receivedTransitionRefusal } from './received-transition';
import type { PlainRecord } from '../records/plain-record';

const AT = '2024-06-01T10:00:00.000Z';
const OTHER_PROVIDER = 'ProviderAccount0000002';
/** Another device of the provider's account: a concurrent edit by the same author. */
const OTHER_DEVICE = 'ProviderDevice00000002';

/** `data` as the version `rv` of its record in its stream, written by `by` on `author`. */
const version = <K extends RecordKind>(
  kind: K,
  data: RecordOf<K>,
  rv: number,
  by = EXAMPLE_PROVIDER_ID,
  author = EXAMPLE_DEVICE_ID,
): PlainRecord => ({
  id: data.id,
  stream: `${EXAMPLE_PATIENT_ID}/${kind === 'LabResult' ? 'lab-result' : kind === 'MedicalNote' ? 'note' : 'allergy'}`,
  kind,
  patientId: EXAMPLE_PATIENT_ID,
  updatedAt: AT,
  rv,
  epoch: 0,
  author,
  by,
  conflict: false,
  data: { ...data },
  conflictData: null,
  _deleted: false,
});

const lab = exampleRecord('LabResult');
/** `l`'s next version with `value`, written by the provider's device. */
const nextLab = (l: RecordOf<'LabResult'>, value: number): RecordOf<'LabResult'> => ({
  ...l,
  value,
  version: l.version + 1,
  versions: [...l.versions, supersededVersion('LabResult', l) as RecordOf<'LabResult'>['versions'][number]],
  provenance: { by: EXAMPLE_PROVIDER_ID, deviceId: EXAMPLE_DEVICE_ID, at: AT },
});

describe('receivedTransitionRefusal', () => {
  const held = version('LabResult', lab, 3);

  it('takes the next version, several versions at once, and the held state again', () => {
    expect(receivedTransitionRefusal(held, version('LabResult', nextLab(lab, 120), 4))).toBeNull();
    expect(
      receivedTransitionRefusal(held, version('LabResult', nextLab(nextLab(lab, 120), 130), 6)),
    ).toBeNull();
    expect(receivedTransitionRefusal(held, version('LabResult', { ...lab, updatedAt: AT }, 4))).toBeNull();
  });

  it('refuses a history dropped or a value changed in place, however far the revision jumps', () => {
    for (const rv of [4, 9]) {
      expect(
        receivedTransitionRefusal(held, version('LabResult', { ...lab, versions: [], version: 1 }, rv)),
      ).toMatch(/versions\[0\]/);
      expect(receivedTransitionRefusal(held, version('LabResult', { ...lab, value: 980 }, rv))).toMatch(
        /version/,
      );
    }
  });

  it('checks the verified writer against author fields of a signed version, one write on only', () => {
    const named = {
      ...nextLab(lab, 120),
      provenance: { by: OTHER_PROVIDER, deviceId: EXAMPLE_DEVICE_ID, at: AT },
    };
    expect(receivedTransitionRefusal(held, version('LabResult', named, 4))).toMatch(/provenance\.by/);
    // Further on, a version in between may have set it: not decidable from the two states.
    expect(receivedTransitionRefusal(held, version('LabResult', named, 5))).toBeNull();
    const note = exampleRecord('MedicalNote');
    const notes = version('MedicalNote', note, 1);
    const renamed = version('MedicalNote', { ...note, authorId: OTHER_PROVIDER }, 2);
    expect(receivedTransitionRefusal(notes, renamed)).toMatch(/authorId/);
  });

  it('takes a merge that keeps the held content and a settlement taking a side; refuses a merge that keeps nothing of it', () => {
    const mine = version('LabResult', nextLab(lab, 120), 4);
    const theirs = {
      ...version('LabResult', nextLab(lab, 130), 4, EXAMPLE_PROVIDER_ID, OTHER_DEVICE),
      updatedAt: '2024-06-02T00:00:00.000Z',
    };
    const merged = resolveRecordConflict(mine, theirs);
    expect(merged.conflict).toBe(true);
    // A device holding `mine` receives the merge (theirs shown, mine a side), then a settlement of it.
    expect(receivedTransitionRefusal(mine, merged)).toBeNull();
    const settled = { ...merged, rv: merged.rv + 1, conflict: false, conflictData: null };
    expect(receivedTransitionRefusal(merged, { ...settled, data: mine.data })).toBeNull();
    expect(receivedTransitionRefusal(merged, settled)).toBeNull();
    const forged = {
      ...merged,
      data: { ...lab, versions: [], version: 1 },
      conflictData: { ...lab, value: 1 },
    };
    expect(receivedTransitionRefusal(mine, forged)).toMatch(/versions\[0\]/);
  });

  it('takes, after a held conflict, a settlement keeping another side of a three-way conflict, and a side taken then edited', () => {
    const a = version('LabResult', nextLab(lab, 120), 4);
    const b = {
      ...version('LabResult', nextLab(lab, 130), 4, EXAMPLE_PROVIDER_ID, OTHER_DEVICE),
      updatedAt: '2024-06-02T00:00:00.000Z',
    };
    const c = {
      ...version('LabResult', nextLab(lab, 140), 4, EXAMPLE_PROVIDER_ID, OTHER_DEVICE),
      updatedAt: '2024-06-03T00:00:00.000Z',
    };
    const m1 = resolveRecordConflict(a, b);
    const m2 = resolveRecordConflict(m1, c);
    expect(m2.conflict).toBe(true);
    // 'other' on a three-way conflict: the top side becomes the record, the earlier sides stay unsettled.
    const [top, ...earlier] = [
      m2.conflictData!,
      ...((m2.conflictData!['_earlierConflicts'] as Record<string, unknown>[] | undefined) ?? []),
    ];
    const { _conflictFrom: _f, _earlierConflicts: _e, ...topContent } = top as Record<string, unknown>;
    const other = {
      ...m2,
      rv: m2.rv + 1,
      data: { ...topContent, id: lab.id },
      conflictData: earlier[0] ?? null,
      conflict: earlier.length > 0,
    };
    expect(receivedTransitionRefusal(m2, other)).toBeNull();
    // A device holding m1 that missed the settlement taking side `a`, and the edit made on it.
    const edited = version('LabResult', nextLab(nextLab(lab, 120), 150), m1.rv + 2);
    expect(receivedTransitionRefusal(m1, edited)).toBeNull();
    // Still refused: a version that follows none of the held states.
    expect(receivedTransitionRefusal(m1, version('LabResult', { ...lab, value: 999 }, m1.rv + 2))).toMatch(
      /version/,
    );
  });

  it('leaves records this build cannot read to other rules, and takes the deletion of a lab result', () => {
    // The records API removes a lab result whatever its status: so may a grantee with write consent.
    expect(
      receivedTransitionRefusal(held, { ...version('LabResult', lab, 4), _deleted: true, data: {} }),
    ).toBeNull();
    expect(
      receivedTransitionRefusal({ ...held, data: { id: lab.id } }, version('LabResult', lab, 4)),
    ).toBeNull();
  });
});

describe('receivedTransitionRefusal: deletions the records API refuses', () => {
  const deletion = (held: PlainRecord, rv = held.rv + 1): PlainRecord => ({
    ...held,
    rv,
    _deleted: true,
    data: {},
  });
  const signature = exampleRecord('NoteSignature');
  const note = exampleRecord('MedicalNote');
  const noteVersion = exampleRecord('NoteVersion');

  it('refuses deleting a signed NoteSignature, however far the revision jumps; takes an unsigned one', () => {
    const signed = version('NoteSignature', { ...signature, status: 'signed' }, 3);
    expect(receivedTransitionRefusal(signed, deletion(signed))).toMatch(/NoteSignature .*signed/);
    expect(receivedTransitionRefusal(signed, deletion(signed, 9))).toMatch(/signed/);
    const requested = version('NoteSignature', { ...signature, status: 'requested' }, 3);
    expect(receivedTransitionRefusal(requested, deletion(requested))).toBeNull();
  });

  it('refuses deleting a signed or amended note in one write; further on it may have become a draft again', () => {
    for (const status of ['signed', 'amended'] as const) {
      const held = version('MedicalNote', { ...note, status }, 3);
      expect(receivedTransitionRefusal(held, deletion(held))).toMatch(new RegExp(`MedicalNote .*${status}`));
      // signed → a draft of a new version (allowed) → deleted (allowed): two writes.
      expect(receivedTransitionRefusal(held, deletion(held, 5))).toBeNull();
    }
    const draft = version('MedicalNote', { ...note, status: 'draft' }, 3);
    expect(receivedTransitionRefusal(draft, deletion(draft))).toBeNull();
  });

  it('takes a deletion after a held conflict one of whose sides may be deleted', () => {
    const signed = version('NoteSignature', { ...signature, status: 'signed' }, 3);
    const requested = version(
      'NoteSignature',
      { ...signature, status: 'requested' },
      3,
      EXAMPLE_PROVIDER_ID,
      OTHER_DEVICE,
    );
    const merged = resolveRecordConflict(signed, { ...requested, updatedAt: '2024-06-02T00:00:00.000Z' });
    expect(merged.conflict).toBe(true);
    expect(receivedTransitionRefusal(merged, deletion(merged, merged.rv + 2))).toBeNull();
  });

  it('refuses deleting a NoteVersion that is final for good by the note and signatures held', () => {
    const n = noteVersion.versionNumber;
    const held = version('NoteVersion', noteVersion, 3);
    const noteAt = (status: RecordOf<'MedicalNote'>['status'], current: number) => ({
      ...note,
      id: noteVersion.noteId,
      status,
      currentVersionNumber: current,
    });
    const signedFor = (versionId: string) => ({ ...signature, noteVersionId: versionId, status: 'signed' });
    const judge = (context: Parameters<typeof receivedTransitionRefusal>[2], rv = 4) =>
      receivedTransitionRefusal(held, deletion(held, rv), context);

    expect(judge({ note: noteAt('draft', n), signatures: [signedFor(held.id)] }, 9)).toMatch(
      /NoteVersion .*signed NoteSignature/,
    );
    expect(judge({ note: noteAt('draft', n + 1), signatures: [] }, 9)).toMatch(/current version/);
    expect(judge({ note: noteAt('signed', n), signatures: [] }, 9)).toMatch(/signed/);
    // A draft's current version, one under review (it may become a draft again at that version), a
    // signature of another version, or a note this device does not hold: nothing is final for good.
    expect(judge({ note: noteAt('draft', n), signatures: [signedFor('OtherVersion000001')] })).toBeNull();
    expect(judge({ note: noteAt('under_review', n), signatures: [] })).toBeNull();
    expect(judge({ note: null, signatures: [] })).toBeNull();
    expect(judge(undefined)).toBeNull();
  });
});

describe('a received version that replaces or re-creates a held record', () => {
  const note = { ...exampleRecord('MedicalNote'), status: 'signed' as const, currentVersionNumber: 2 };
  const inNotes = <K extends 'MedicalNote' | 'NoteVersion'>(kind: K, data: RecordOf<K>, rv: number) => ({
    ...version('MedicalNote', note, rv),
    kind,
    data: { ...data },
  });
  const { amendmentReason: _reason, ...original } = exampleRecord('NoteVersion');
  const asVersion: RecordOf<'NoteVersion'> = { ...original, id: note.id, kind: 'original', versionNumber: 1 };

  it('another kind under the id of a signed note is refused as its deletion would be', () => {
    const held = inNotes('MedicalNote', note, 3);
    expect(receivedTransitionRefusal(held, { ...held, rv: 4, _deleted: true })).toMatch(/signed/);
    expect(receivedTransitionRefusal(held, inNotes('NoteVersion', asVersion, 4))).toMatch(
      /^replaced by a NoteVersion: .*signed/,
    );
  });

  it('another kind under the id of a draft note (which may be removed) is taken', () => {
    const held = inNotes('MedicalNote', { ...note, status: 'draft' }, 3);
    expect(receivedTransitionRefusal(held, inNotes('NoteVersion', asVersion, 4))).toBeNull();
  });

  it('a note re-created after its deletion at a lower version is refused; at its version, taken', () => {
    const gone = { ...inNotes('MedicalNote', { ...note, status: 'draft' }, 4), _deleted: true };
    const back = (currentVersionNumber: number) =>
      inNotes('MedicalNote', { ...note, status: 'draft', currentVersionNumber }, 5);
    expect(receivedTransitionRefusal(gone, back(1))).toMatch(/currentVersionNumber/);
    expect(receivedTransitionRefusal(gone, back(2))).toBeNull();
    // A deletion that kept no content (a purge's) has nothing to compare with.
    expect(receivedTransitionRefusal({ ...gone, data: {} }, back(1))).toBeNull();
  });
});
