// Rules the first review left out: an allergy recorded in the future, a signed version number on a
// signature nobody signed, an administration before the patient's birth; and what a refusal says of the
// device's clock, which in the model has no time zone.
import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import type { RecordKind } from './registry';
import { validateRecord } from './validate';
import { FUTURE_TOLERANCE_MS, checkWriteRules, type WriteRuleContext } from './write-rules';

const NOW = Date.parse('2024-06-01T12:00:00Z');

/** `field rule` of each issue of the example of `kind` with `overrides` (undefined: left out). */
const broken = (
  kind: RecordKind,
  overrides: Readonly<Record<string, unknown>>,
  { now = NOW, previous, context }: { now?: number; previous?: object; context?: WriteRuleContext } = {},
): string[] => {
  const record = validateRecord(kind, JSON.parse(JSON.stringify({ ...exampleRecord(kind), ...overrides })));
  if (!record.ok) throw new Error(record.error.message);
  const result = checkWriteRules(kind, record.value, now, previous as Record<string, unknown>, context);
  return result.ok ? [] : result.error.issues.map((issue) => `${issue.field} ${issue.rule}`);
};

describe('checkWriteRules: Allergy recordedAt', () => {
  // FHIR AllergyIntolerance.recordedDate: "when this particular AllergyIntolerance record was created in
  // the system". A record cannot have been made after the moment it is written.
  it('refuses a recording time more than a day ahead of the clock', () => {
    const beyond = new Date(NOW + FUTURE_TOLERANCE_MS + 1000).toISOString();
    const atTolerance = new Date(NOW + FUTURE_TOLERANCE_MS).toISOString();
    expect(broken('Allergy', { recordedAt: '2042-05-01T09:30:00Z' })).toEqual(['recordedAt DATE_IN_FUTURE']);
    expect(broken('Allergy', { recordedAt: beyond })).toEqual(['recordedAt DATE_IN_FUTURE']);
    expect(broken('Allergy', { recordedAt: atTolerance })).toEqual([]);
  });

  it('does not refuse an edit of another field of an allergy stored with a future recordedAt', () => {
    const stored = exampleRecord('Allergy', { recordedAt: '2042-05-01T09:30:00Z' });
    expect(broken('Allergy', { ...stored, notes: 'Also amoxicillin.' }, { previous: stored })).toEqual([]);
  });
});

describe('checkWriteRules: the refusal names no local day', () => {
  // 04:00 UTC on 2 June is 20:00 on 1 June in UTC-8: the UTC date is not the patient's today.
  const evening = Date.parse('2024-06-02T04:00:00Z');
  const message = (kind: RecordKind, overrides: Record<string, unknown>, now: number) => {
    const result = checkWriteRules(kind, exampleRecord(kind, overrides) as never, now);
    return result.ok ? '' : result.error.message;
  };

  it('gives the clock as an instant instead of a "today"', () => {
    expect(message('Profile', { birthDate: '2024-06-05' }, evening)).toBe(
      "Profile is invalid: birthDate: must not be in the future (2024-06-05 begins more than 24 hours after this device's clock, 2024-06-02T04:00:00.000Z, in every time zone)",
    );
    expect(
      message('LabResult', { effectiveAt: '2024-06-04T08:00:00-08:00', publishedAt: undefined }, evening),
    ).toBe(
      "LabResult is invalid: effectiveAt: must not be in the future (2024-06-04T08:00:00-08:00 is more than 24 hours after this device's clock, 2024-06-02T04:00:00.000Z)",
    );
  });

  it('does not throw, nor judge, with a clock outside the range of dates', () => {
    for (const now of [-1e16, 1e16]) {
      expect(broken('Profile', { birthDate: '1990-01-01' }, { now })).toEqual([]);
    }
  });
});

describe('checkWriteRules: SIGNED_VERSION_UNSIGNED', () => {
  it('refuses a signed version number on a signature requested or declined', () => {
    for (const status of ['requested', 'declined'] as const) {
      expect(broken('NoteSignature', { status, signedAt: undefined })).toEqual([
        'signedVersionNumber SIGNED_VERSION_UNSIGNED',
      ]);
      expect(
        broken('NoteSignature', { status, signedAt: undefined, signedVersionNumber: undefined }),
      ).toEqual([]);
    }
    expect(broken('NoteSignature', {})).toEqual([]);
  });

  it('judges a stored request with a number only when the write touches the number or the status', () => {
    const { signedAt: _a, ...request } = exampleRecord('NoteSignature', { status: 'requested' });
    const edit = (changes: Record<string, unknown>) =>
      broken('NoteSignature', { ...request, signedAt: undefined, ...changes }, { previous: request });
    expect(edit({ comment: 'Please sign.' })).toEqual([]);
    expect(edit({ status: 'declined' })).toEqual(['signedVersionNumber SIGNED_VERSION_UNSIGNED']);
  });
});

describe('checkWriteRules: ADMINISTERED_BEFORE_BIRTH', () => {
  const born = { birthDate: '2024-03-10' };

  it('refuses an administration before the birth date the caller holds', () => {
    const before = { administeredAt: '2024-03-09', nextDoseDate: undefined };
    expect(broken('Immunization', before, { context: born })).toEqual([
      'administeredAt ADMINISTERED_BEFORE_BIRTH',
    ]);
    // On the day of birth, or only the year or month known. An instant is on the day when it is in the
    // day somewhere on Earth: 06:00 in Tokyo on the day of birth, written in UTC (21:00Z the day before).
    for (const administeredAt of [
      '2024-03-10',
      '2024-03-10T06:00:00+09:00',
      '2024-03-09T21:00:00Z',
      '2024-03-09T10:00:00Z',
      '2024-03',
      '2024',
    ]) {
      expect(broken('Immunization', { administeredAt, nextDoseDate: undefined }, { context: born })).toEqual(
        [],
      );
    }
    // Before the day's first moment anywhere (00:00 at UTC+14:00 is 10:00Z the day before).
    for (const administeredAt of ['2024-02', '2024-03-09T09:59:59Z', '2024-03-09T23:59:59+14:00']) {
      expect(broken('Immunization', { administeredAt, nextDoseDate: undefined }, { context: born })).toEqual([
        'administeredAt ADMINISTERED_BEFORE_BIRTH',
      ]);
    }
    // No birth date known: nothing to compare.
    expect(broken('Immunization', before, { context: {} })).toEqual([]);
    expect(broken('Immunization', before)).toEqual([]);
  });

  it('over a stored state, only when the administration changes', () => {
    const { nextDoseDate: _n, ...held } = exampleRecord('Immunization', { administeredAt: '2024-03-01' });
    expect(
      broken(
        'Immunization',
        { ...held, nextDoseDate: undefined, lotNumber: 'LOT-7' },
        { previous: held, context: born },
      ),
    ).toEqual([]);
    expect(
      broken(
        'Immunization',
        { ...held, nextDoseDate: undefined, administeredAt: '2024-03-02' },
        { previous: held, context: born },
      ),
    ).toEqual(['administeredAt ADMINISTERED_BEFORE_BIRTH']);
  });
});
