// The write rules the records API added after the first review: an allergy recorded in the future, a
// signed version number on a signature nobody signed, and an administration before the patient's birth
// date as this device holds it (the patient's Profile, read from the local store: no network).
import { afterEach, describe, expect, it } from 'vitest';
import { EXAMPLE_PATIENT_ID, EXAMPLE_PROVIDER_ID, exampleRecord, type ValidationIssue } from '@hale/model';
import { resolveRecordConflict } from './conflicts';
import type { RecordError } from './records';
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
const OTHER_PATIENT = 'AcctOther0000000000001';

/** The refusal's code and its issues as `field rule` pairs. */
const ruled = (error: RecordError): [string, string[]] => [
  error.code,
  (error.detail?.issues ?? []).map(
    (issue: ValidationIssue & { rule?: string }) => `${issue.field} ${issue.rule ?? '-'}`,
  ),
];

describe('records: Allergy recordedAt', () => {
  it('refuses an allergy recorded in the future, and writes nothing', async () => {
    const { records } = await setup();
    const error = await recordRefusal(
      records.add('Allergy', recordInput('Allergy', { recordedAt: '2042-05-01T09:30:00Z' })),
    );
    expect(ruled(error)).toEqual(['VALIDATION_FAILED', ['recordedAt DATE_IN_FUTURE']]);
    expect(await records.query('Allergy')).toEqual([]);
  });
});

describe('records: a signed version number on a signature not signed', () => {
  const request = () => {
    const { signedAt: _a, ...rest } = recordInput('NoteSignature', {
      status: 'requested',
      signerId: EXAMPLE_PROVIDER_ID,
    });
    return rest;
  };

  it('refuses a request naming a signed version number, and takes one without', async () => {
    const { records } = await setup();
    // The requester's number would become the signed one when the signer's device lacks the version.
    const error = await recordRefusal(records.add('NoteSignature', { ...request(), signedVersionNumber: 2 }));
    expect(ruled(error)).toEqual(['VALIDATION_FAILED', ['signedVersionNumber SIGNED_VERSION_UNSIGNED']]);
    const { signedVersionNumber: _n, ...unnumbered } = request();
    const added = await records.add('NoteSignature', unnumbered);
    const update = await recordRefusal(records.update('NoteSignature', added.id, { signedVersionNumber: 2 }));
    expect(ruled(update)).toEqual(['VALIDATION_FAILED', ['signedVersionNumber SIGNED_VERSION_UNSIGNED']]);
    expect((await records.get<'NoteSignature'>(added.id))?.record.signedVersionNumber).toBeUndefined();
  });
});

describe('records: an administration before the birth date held', () => {
  const immunization = (administeredAt: string) => {
    const { nextDoseDate: _n, ...rest } = recordInput('Immunization', { administeredAt });
    return rest;
  };

  it('refuses an immunization given before the birth date of the Profile this device holds', async () => {
    const { records } = await setup();
    await records.add('Profile', recordInput('Profile', { birthDate: '2024-03-10' }));
    const error = await recordRefusal(records.add('Immunization', immunization('2024-03-09')));
    expect(ruled(error)).toEqual(['VALIDATION_FAILED', ['administeredAt ADMINISTERED_BEFORE_BIRTH']]);
    expect(error.message).toContain('2024-03-10');
    expect(await records.query('Immunization')).toEqual([]);
    const onTheDay = await records.add('Immunization', immunization('2024-03-10'));
    const moved = await recordRefusal(
      records.update('Immunization', onTheDay.id, { administeredAt: '2024-03-01' }),
    );
    expect(ruled(moved)).toEqual(['VALIDATION_FAILED', ['administeredAt ADMINISTERED_BEFORE_BIRTH']]);
    expect((await records.get<'Immunization'>(onTheDay.id))?.record.administeredAt).toBe('2024-03-10');
  });

  it('with no birth date held, or another patient’s, takes it', async () => {
    const { records } = await setup();
    await records.add('Profile', recordInput('Profile', { birthDate: '2024-03-10' }), {
      patientId: OTHER_PATIENT,
    });
    expect((await records.add('Immunization', immunization('2024-03-09'))).administeredAt).toBe('2024-03-09');
    const { birthDate: _b, ...undated } = recordInput('Profile');
    await records.add('Profile', undated);
    expect((await records.add('Immunization', immunization('2024-03-08'))).administeredAt).toBe('2024-03-08');
  });

  it('with two Profiles held, refuses only what comes before both birth dates', async () => {
    const { records } = await setup();
    // Two devices each created a Profile before their first sync, and they disagree.
    await records.add('Profile', recordInput('Profile', { birthDate: '2024-03-10' }));
    await records.add('Profile', recordInput('Profile', { birthDate: '2024-02-10' }));
    expect((await records.add('Immunization', immunization('2024-03-01'))).administeredAt).toBe('2024-03-01');
    const error = await recordRefusal(records.add('Immunization', immunization('2024-02-01')));
    expect(ruled(error)).toEqual(['VALIDATION_FAILED', ['administeredAt ADMINISTERED_BEFORE_BIRTH']]);
  });

  it('counts the birth date of a Profile side not yet settled', async () => {
    const { db, records } = await setup();
    const profile = exampleRecord('Profile', { birthDate: '2024-03-10' });
    const mine = pulledSide('Profile', { ...profile, updatedAt: '2024-05-04T00:00:00.000Z' });
    // Another device corrected the birth date meanwhile (the side not shown); nobody has chosen yet.
    const theirs = pulledSide(
      'Profile',
      { ...profile, birthDate: '2024-02-10', updatedAt: '2024-05-03T00:00:00.000Z' },
      { author: 'DevC000000000000000001' },
    );
    await storeMerged(db, resolveRecordConflict(mine, theirs));
    const [shown] = await records.conflicts();
    expect([shown?.conflict, (shown?.record as { birthDate?: string }).birthDate]).toEqual([
      true,
      '2024-03-10',
    ]);
    expect((await records.add('Immunization', immunization('2024-03-01'))).administeredAt).toBe('2024-03-01');
    const error = await recordRefusal(records.add('Immunization', immunization('2024-02-01')));
    expect(ruled(error)).toEqual(['VALIDATION_FAILED', ['administeredAt ADMINISTERED_BEFORE_BIRTH']]);
  });

  it('keeps a stored immunization before the birth date editable in its other fields', async () => {
    const { db, records } = await setup();
    await records.add('Profile', recordInput('Profile', { birthDate: '2024-03-10' }));
    const { nextDoseDate: _n, ...data } = exampleRecord('Immunization', {
      patientId: EXAMPLE_PATIENT_ID,
      administeredAt: '2024-03-01',
    });
    await storeMerged(db, pulledSide('Immunization', data));
    expect((await records.update('Immunization', data.id, { lotNumber: 'LOT-7' })).lotNumber).toBe('LOT-7');
  });
});
