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
import { resolveRecordConflict } from './conflicts';
import { receivedTransitionRefusal } from './received-transition';
import type { PlainRecord } from './record-codec';

const AT = '2024-06-01T10:00:00.000Z';
const OTHER_PROVIDER = 'ProviderAccount0000002';

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
      ...version('LabResult', nextLab(lab, 130), 4, OTHER_PROVIDER),
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
      ...version('LabResult', nextLab(lab, 130), 4, OTHER_PROVIDER),
      updatedAt: '2024-06-02T00:00:00.000Z',
    };
    const c = {
      ...version('LabResult', nextLab(lab, 140), 4, OTHER_PROVIDER),
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

  it('leaves deletions and records this build cannot read to other rules', () => {
    expect(
      receivedTransitionRefusal(held, { ...version('LabResult', lab, 4), _deleted: true, data: {} }),
    ).toBeNull();
    expect(
      receivedTransitionRefusal({ ...held, data: { id: lab.id } }, version('LabResult', lab, 4)),
    ).toBeNull();
  });
});
