// The model's write rules (checkWriteRules) on this device's writes, and stored records that break them
// (written by another device or an older build) staying readable and editable.
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PROVIDER_ID, exampleRecord, type RecordKind, type ValidationIssue } from '@hale/model';
import { resolveRecordConflict } from './conflicts';
import type { RecordError, RecordInput } from './records';
import {
  closeRecordDbs,
  pulledSide,
  recordInput,
  recordRefusal,
  setupRecords,
  storeMerged,
} from './records.test-util';

afterEach(closeRecordDbs);

const NOW = Date.parse('2024-06-01T12:00:00Z');
const setup = () => setupRecords({ now: () => NOW });
/** The example input of `kind` with `overrides`; a field given as undefined is left out. */
const input = <K extends RecordKind>(
  kind: K,
  overrides: Readonly<Record<string, unknown>> = {},
): RecordInput<K> => {
  const fields: Record<string, unknown> = { ...recordInput(kind), ...overrides };
  for (const [key, value] of Object.entries(fields)) if (value === undefined) delete fields[key];
  return fields as RecordInput<K>;
};

/** The refusal's issues as `field rule` pairs (the rule is what a program branches on). */
const ruled = (error: RecordError): string[] =>
  (error.detail?.issues ?? []).map(
    (issue: ValidationIssue & { rule?: string }) => `${issue.field} ${issue.rule ?? '-'}`,
  );

const refusedAdd = async (kind: RecordKind, overrides: Record<string, unknown>): Promise<string[]> => {
  const { records } = await setup();
  const error = await recordRefusal(records.add(kind, input(kind, overrides)));
  expect(error.code).toBe('VALIDATION_FAILED');
  // Nothing stored.
  expect(await records.query(kind)).toEqual([]);
  return ruled(error);
};

describe('records: write rules refuse new contradictions', () => {
  it('refuses an Immunization whose next dose is before its administration', async () => {
    expect(
      await refusedAdd('Immunization', { administeredAt: '2024-04-12', nextDoseDate: '2024-04-01' }),
    ).toEqual(['nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION']);
  });

  it('refuses a NoteSignature that is only requested but carries signedAt', async () => {
    expect(
      await refusedAdd('NoteSignature', {
        status: 'requested',
        signerId: EXAMPLE_PROVIDER_ID,
        signedAt: '2024-05-02T14:05:00.000Z',
        signedVersionNumber: undefined,
      }),
    ).toEqual(['signedAt SIGNED_AT_UNSIGNED']);
  });

  it('refuses a birth date in year 9999 and other past-only dates in the future', async () => {
    expect(await refusedAdd('Profile', { birthDate: '9999-01-01' })).toEqual(['birthDate DATE_IN_FUTURE']);
    expect(await refusedAdd('Immunization', { administeredAt: '2031', nextDoseDate: undefined })).toEqual([
      'administeredAt DATE_IN_FUTURE',
    ]);
    expect(
      await refusedAdd('LabResult', { effectiveAt: '2025-06-01T08:00:00Z', publishedAt: undefined }),
    ).toEqual(['effectiveAt DATE_IN_FUTURE']);
  });

  it('refuses a lab result with its reference range upside down, or published before collected', async () => {
    expect(await refusedAdd('LabResult', { referenceRange: '99-70 mg/dL' })).toEqual([
      'referenceRange REFERENCE_RANGE_INVERTED',
    ]);
    expect(
      await refusedAdd('LabResult', {
        effectiveAt: '2024-05-01T08:10:00Z',
        publishedAt: '2024-04-30T08:10:00Z',
      }),
    ).toEqual(['publishedAt PUBLISHED_BEFORE_EFFECTIVE']);
  });

  it('takes a birth date that is already today somewhere on Earth', async () => {
    const { records } = await setup();
    // 12:00 UTC on 1 June is already 2 June in UTC+14.
    const profile = await records.add('Profile', input('Profile', { birthDate: '2024-06-02' }));
    expect(profile.birthDate).toBe('2024-06-02');
  });

  it('refuses an update that signs nothing but sets signedAt, and writes nothing', async () => {
    const { records } = await setup();
    const request = await records.add(
      'NoteSignature',
      input('NoteSignature', {
        status: 'requested',
        signerId: EXAMPLE_PROVIDER_ID,
        signedAt: undefined,
        signedVersionNumber: undefined,
      }),
    );
    const error = await recordRefusal(
      records.update('NoteSignature', request.id, { signedAt: '2024-05-02T14:05:00.000Z' }),
    );
    expect(ruled(error)).toEqual(['signedAt SIGNED_AT_UNSIGNED']);
    expect((await records.get<'NoteSignature'>(request.id))?.record.signedAt).toBeUndefined();
  });
});

describe('records: a stored record that breaks a write rule keeps reading', () => {
  /** An Immunization as a pull from an older build leaves it: its next dose before its administration. */
  const storedContradiction = async () => {
    const { db, records } = await setup();
    const data = exampleRecord('Immunization', { administeredAt: '2024-04-12', nextDoseDate: '2024-04-01' });
    await storeMerged(db, pulledSide('Immunization', data));
    return { records, id: data.id };
  };

  it('is read by get and query as stored', async () => {
    const { records, id } = await storedContradiction();
    expect((await records.get<'Immunization'>(id))?.record.nextDoseDate).toBe('2024-04-01');
    expect((await records.query('Immunization')).map((s) => s.record.id)).toEqual([id]);
  });

  it('takes an edit of other fields, and refuses one that writes the contradiction again', async () => {
    const { records, id } = await storedContradiction();
    const edited = await records.update('Immunization', id, { lotNumber: 'LOT-7' });
    expect(edited.nextDoseDate).toBe('2024-04-01');

    const error = await recordRefusal(records.update('Immunization', id, { nextDoseDate: '2024-04-02' }));
    expect(ruled(error)).toEqual(['nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION']);

    const fixed = await records.update('Immunization', id, { nextDoseDate: '2024-10-12' });
    expect(fixed.nextDoseDate).toBe('2024-10-12');
  });
});

describe('records: merged content is a write', () => {
  it('refuses a merge that writes a contradiction; taking a side as written is not judged', async () => {
    const { db, records } = await setup();
    const data = exampleRecord('Immunization', { administeredAt: '2024-04-12', nextDoseDate: '2024-10-12' });
    const mine = pulledSide('Immunization', {
      ...data,
      lotNumber: 'A',
      updatedAt: '2024-05-03T00:00:00.000Z',
    });
    // The other device's side, from an older build, has its next dose before the dose.
    const theirs = pulledSide(
      'Immunization',
      { ...data, nextDoseDate: '2024-04-01', updatedAt: '2024-05-04T00:00:00.000Z' },
      { author: 'DevC000000000000000001' },
    );
    await storeMerged(db, resolveRecordConflict(mine, theirs));
    const [shown] = await records.conflicts();

    const error = await recordRefusal(
      records.resolveConflict(data.id, { nextDoseDate: '2024-04-02' }, { expectedRv: shown!.rv }),
    );
    expect(ruled(error)).toEqual(['nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION']);
    expect((await records.get(data.id))?.rv).toBe(shown!.rv);

    await records.resolveConflict(data.id, 'keep', { expectedRv: shown!.rv });
    expect((await records.get(data.id))?.conflict).toBe(false);
  });
});
