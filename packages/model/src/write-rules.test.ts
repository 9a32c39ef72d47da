import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import type { RecordKind } from './registry';
import { validateRecord } from './validate';
import { FUTURE_TOLERANCE_MS, WRITE_RULE_CODES, checkWriteRules } from './write-rules';

const NOW = Date.parse('2024-06-01T12:00:00Z');

/**
 * `field rule` of each issue the write rules find in the example of `kind` with `overrides` (a field
 * given as undefined is left out), checked at `now` as the successor of `previous` when given.
 */
const broken = (
  kind: RecordKind,
  overrides: Readonly<Record<string, unknown>>,
  now = NOW,
  previous?: Readonly<Record<string, unknown>> | null,
): string[] => {
  // JSON leaves out the fields given as undefined, as a stored copy does.
  const fields: unknown = JSON.parse(JSON.stringify({ ...exampleRecord(kind), ...overrides }));
  // Every case is a valid record: what is stored or received keeps reading (validateRecord takes it).
  const record = validateRecord(kind, fields);
  if (!record.ok) throw new Error(record.error.message);
  const result = checkWriteRules(kind, record.value, now, previous);
  return result.ok ? [] : result.error.issues.map((issue) => `${issue.field} ${issue.rule}`);
};

describe('checkWriteRules', () => {
  it('keeps its codes append-only', () => {
    expect(WRITE_RULE_CODES.slice(0, 8)).toEqual([
      'NEXT_DOSE_BEFORE_ADMINISTRATION',
      'SIGNED_AT_UNSIGNED',
      'REVOKED_AT_ACTIVE',
      'DATE_IN_FUTURE',
      'PUBLISHED_BEFORE_EFFECTIVE',
      'REFERENCE_RANGE_INVERTED',
      'SIGNED_VERSION_UNSIGNED',
      'ADMINISTERED_BEFORE_BIRTH',
    ]);
  });

  it('takes every example record', () => {
    for (const kind of [
      'Profile',
      'Allergy',
      'Immunization',
      'LabResult',
      'Encounter',
      'NoteSignature',
    ] as const) {
      expect(broken(kind, {})).toEqual([]);
    }
    expect(broken('Consent', { status: 'active', revokedAt: undefined })).toEqual([]);
  });

  it('NEXT_DOSE_BEFORE_ADMINISTRATION: a next dose before the dose given', () => {
    expect(broken('Immunization', { administeredAt: '2024-04-12', nextDoseDate: '2024-04-11' })).toEqual([
      'nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION',
    ]);
    // Two instants compare as instants; a day against an instant compares days.
    expect(
      broken('Immunization', {
        administeredAt: '2024-04-12T10:00:00Z',
        nextDoseDate: '2024-04-12T09:00:00Z',
      }),
    ).toEqual(['nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION']);
    expect(
      broken('Immunization', { administeredAt: '2024-04-12T10:00:00Z', nextDoseDate: '2024-04-12' }),
    ).toEqual([]);
    // Only a year or a month known: refused only when the next dose is before all of it.
    expect(broken('Immunization', { administeredAt: '2024-04', nextDoseDate: '2024-04-01' })).toEqual([]);
    expect(broken('Immunization', { administeredAt: '2024', nextDoseDate: '2023-12-31' })).toEqual([
      'nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION',
    ]);
  });

  it('SIGNED_AT_UNSIGNED: a signing time on a signature not signed', () => {
    for (const status of ['requested', 'declined'] as const) {
      const unnumbered = { status, signedVersionNumber: undefined };
      expect(broken('NoteSignature', unnumbered)).toEqual(['signedAt SIGNED_AT_UNSIGNED']);
      expect(broken('NoteSignature', { ...unnumbered, signedAt: undefined })).toEqual([]);
    }
  });

  it('REVOKED_AT_ACTIVE: a revocation time on a consent in force', () => {
    expect(broken('Consent', { status: 'active' })).toEqual(['revokedAt REVOKED_AT_ACTIVE']);
  });

  it('DATE_IN_FUTURE: dates only the past can hold, with a day of tolerance', () => {
    expect(broken('Profile', { birthDate: '9999-01-01' })).toEqual(['birthDate DATE_IN_FUTURE']);
    // 12:00 UTC on 1 June: 2 June has begun in UTC+14; 3 June is within the tolerance; 4 June is not.
    expect(broken('Profile', { birthDate: '2024-06-03' })).toEqual([]);
    expect(broken('Profile', { birthDate: '2024-06-04' })).toEqual(['birthDate DATE_IN_FUTURE']);
    expect(broken('Allergy', { onsetDate: '2025' })).toEqual(['onsetDate DATE_IN_FUTURE']);
    expect(broken('Allergy', { onsetDate: '2024-06' })).toEqual([]);
    expect(broken('Immunization', { administeredAt: '2024-07', nextDoseDate: undefined })).toEqual([
      'administeredAt DATE_IN_FUTURE',
    ]);
    const atTolerance = new Date(NOW + FUTURE_TOLERANCE_MS).toISOString();
    const beyond = new Date(NOW + FUTURE_TOLERANCE_MS + 1000).toISOString();
    expect(broken('LabResult', { effectiveAt: atTolerance, publishedAt: undefined })).toEqual([]);
    expect(broken('LabResult', { effectiveAt: beyond, publishedAt: undefined })).toEqual([
      'effectiveAt DATE_IN_FUTURE',
    ]);
    // An ordered test may name when it is to be collected; one whose status is unknown may be one.
    expect(
      broken('LabResult', { status: 'registered', effectiveAt: beyond, publishedAt: undefined }),
    ).toEqual([]);
    expect(broken('LabResult', { status: 'unknown', effectiveAt: beyond, publishedAt: undefined })).toEqual(
      [],
    );
    expect(broken('Encounter', { startedAt: beyond, endedAt: undefined, status: 'planned' })).toEqual([]);
    expect(broken('Encounter', { startedAt: beyond, endedAt: undefined, status: 'in-progress' })).toEqual([
      'startedAt DATE_IN_FUTURE',
    ]);
    expect(broken('Appointment', { startAt: beyond, endAt: beyond, status: 'scheduled' })).toEqual([]);
    expect(broken('Appointment', { startAt: beyond, endAt: beyond, status: 'completed' })).toEqual([
      'startAt DATE_IN_FUTURE',
    ]);
  });

  it('DATE_IN_FUTURE names the device clock, so a wrong clock shows', () => {
    const result = checkWriteRules('Profile', exampleRecord('Profile', { birthDate: '2024-06-04' }), NOW);
    expect(result.ok ? '' : result.error.message).toBe(
      "Profile is invalid: birthDate: must not be in the future (2024-06-04 begins more than 24 hours after this device's clock, 2024-06-01T12:00:00.000Z, in every time zone)",
    );
  });

  it('PUBLISHED_BEFORE_EFFECTIVE: a result issued before it was collected', () => {
    expect(
      broken('LabResult', { effectiveAt: '2024-05-01T08:10:00Z', publishedAt: '2024-05-01T08:09:59Z' }),
    ).toEqual(['publishedAt PUBLISHED_BEFORE_EFFECTIVE']);
    expect(broken('LabResult', { effectiveAt: '2024-05-01', publishedAt: '2024-05-01T06:00:00Z' })).toEqual(
      [],
    );
  });

  it('REFERENCE_RANGE_INVERTED: a low-high range with low above high', () => {
    for (const referenceRange of ['99-70 mg/dL', '5.0 – 3.5', '-2 to -5', '10-2']) {
      expect(broken('LabResult', { referenceRange })).toEqual(['referenceRange REFERENCE_RANGE_INVERTED']);
    }
    // Ordered, equal, or text this rule does not read (decimal commas, thousands, titres, bounds).
    for (const referenceRange of [
      '70-99 mg/dL',
      '3.5 - 5.0',
      '-5--3',
      '5-5',
      '150,000-400,000',
      '4,5-3',
      '1:40',
      '<5',
      'M 13-17',
    ]) {
      expect(broken('LabResult', { referenceRange })).toEqual([]);
    }
  });

  it('with the state replaced, reports only rules reading a field the write changed', () => {
    const stored = exampleRecord('Immunization', {
      administeredAt: '2024-04-12',
      nextDoseDate: '2024-04-01',
    });
    // Another field edited: the contradiction came with the record and is not this write's.
    expect(broken('Immunization', { ...stored, lotNumber: 'LOT-7' }, NOW, stored)).toEqual([]);
    // Moved, but still before: refused.
    expect(broken('Immunization', { ...stored, nextDoseDate: '2024-04-02' }, NOW, stored)).toEqual([
      'nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION',
    ]);
    // A request an older build stored with a signing time: its comment may still change.
    const request = exampleRecord('NoteSignature', { status: 'requested' });
    expect(broken('NoteSignature', { ...request, comment: 'Please sign today.' }, NOW, request)).toEqual([]);
    // A status that makes a kept time contradictory is a change to a field the rule reads.
    const signed = exampleRecord('NoteSignature');
    expect(broken('NoteSignature', { ...signed, status: 'declined' }, NOW, signed)).toEqual([
      'signedAt SIGNED_AT_UNSIGNED',
      'signedVersionNumber SIGNED_VERSION_UNSIGNED',
    ]);
  });

  it('does not judge a record whose clock is not a time', () => {
    expect(broken('Profile', { birthDate: '9999-01-01' }, Number.NaN)).toEqual([]);
  });
});
