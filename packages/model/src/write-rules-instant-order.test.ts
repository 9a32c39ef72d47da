// The write rules read instants as instants: two times of a record (a dose and the next, a result's
// collection and publication, a message's sending and receipts) compare to the nanosecond at any offset,
// and a time compared with the clock or a birth date is read the same on every engine, not by Date.parse,
// which ECMA-262 defines only for three fraction digits.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { exampleRecord } from './examples';
import type { RecordKind } from './registry';
import { validateRecord } from './validate';
import { FUTURE_TOLERANCE_MS, checkWriteRules, type WriteRuleContext } from './write-rules';

const NOW = Date.parse('2024-06-01T12:00:00Z');

/** `field rule` of each issue of the example of `kind` with `overrides` (undefined: left out). */
const broken = (
  kind: RecordKind,
  overrides: Readonly<Record<string, unknown>>,
  context?: WriteRuleContext,
): string[] => {
  const record = validateRecord(kind, JSON.parse(JSON.stringify({ ...exampleRecord(kind), ...overrides })));
  if (!record.ok) throw new Error(record.error.message);
  const result = checkWriteRules(kind, record.value, NOW, undefined, context);
  return result.ok ? [] : result.error.issues.map((issue) => `${issue.field} ${issue.rule}`);
};

const delivered = (sentAt: string, deliveredAt: string) => ({
  ...exampleRecord('Message', { status: 'delivered', sentAt, deliveredAt }),
  readAt: undefined,
});

describe('checkWriteRules: two times of a record, as instants', () => {
  it('NEXT_DOSE_BEFORE_ADMINISTRATION within one millisecond', () => {
    expect(
      broken('Immunization', {
        administeredAt: '2024-05-01T10:00:00.0002Z',
        nextDoseDate: '2024-05-01T10:00:00.0001Z',
      }),
    ).toEqual(['nextDoseDate NEXT_DOSE_BEFORE_ADMINISTRATION']);
    expect(
      broken('Immunization', {
        administeredAt: '2024-05-01T10:00:00.0001Z',
        nextDoseDate: '2024-05-01T12:00:00.0002+02:00',
      }),
    ).toEqual([]);
    // A day against an instant: the instant's own date, as before.
    expect(
      broken('Immunization', { administeredAt: '2024-05-01T10:00:00.0002Z', nextDoseDate: '2024-05-01' }),
    ).toEqual([]);
  });

  it('PUBLISHED_BEFORE_EFFECTIVE within one millisecond and across offsets', () => {
    expect(
      broken('LabResult', {
        effectiveAt: '2024-05-01T10:00:00.123456789Z',
        publishedAt: '2024-05-01T10:00:00.123456788Z',
      }),
    ).toEqual(['publishedAt PUBLISHED_BEFORE_EFFECTIVE']);
    expect(
      broken('LabResult', { effectiveAt: '2024-05-01T09:30:00Z', publishedAt: '2024-05-01T11:00:00+02:00' }),
    ).toEqual(['publishedAt PUBLISHED_BEFORE_EFFECTIVE']);
  });

  it('RECEIVED_BEFORE_SENT: more than the tolerance before, to the nanosecond', () => {
    // Exactly a day (the tolerance) before: honest skew.
    expect(broken('Message', delivered('2024-05-20T11:00:00.0002Z', '2024-05-19T11:00:00.0002Z'))).toEqual(
      [],
    );
    expect(
      broken('Message', delivered('2024-05-20T11:00:00.0002Z', '2024-05-19T13:00:00.0002+02:00')),
    ).toEqual([]);
    // 100 ns more than a day before.
    expect(broken('Message', delivered('2024-05-20T11:00:00.0002Z', '2024-05-19T11:00:00.0001Z'))).toEqual([
      'deliveredAt RECEIVED_BEFORE_SENT',
    ]);
    expect(
      broken('Message', delivered('2024-05-20T11:00:00.0002Z', '2024-05-19T09:00:00.0001-02:00')),
    ).toEqual(['deliveredAt RECEIVED_BEFORE_SENT']);
    expect(FUTURE_TOLERANCE_MS).toBe(24 * 60 * 60 * 1000);
  });
});

describe('checkWriteRules: a time against the clock or a birth date, on any engine', () => {
  // An engine that reads only the forms ECMA-262 defines (`YYYY-MM-DD`, `…THH:mm`, `…:ss`, `…:ss.sss`,
  // with `Z` or an offset) and answers NaN for the rest, as the standard allows.
  const engineParse = Date.parse.bind(Date);
  const ECMA_FORM = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{3})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
  const onStrictEngine = () => {
    vi.spyOn(Date, 'parse').mockImplementation((text) =>
      ECMA_FORM.test(text) ? engineParse(text) : Number.NaN,
    );
  };
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('judges an instant of four or nine fraction digits by its time, not as future', () => {
    onStrictEngine();
    expect(Number.isNaN(Date.parse('2024-05-01T10:00:00.1234Z'))).toBe(true);
    expect(broken('Immunization', { administeredAt: '2024-05-01T10:00:00.1234Z' })).toEqual([]);
    expect(broken('Message', delivered('2024-05-20T11:00:00.1Z', '2024-05-20T11:00:01.123456789Z'))).toEqual(
      [],
    );
    // The clock is read to the millisecond: within the millisecond after now + tolerance is at it.
    expect(broken('Immunization', { administeredAt: '2024-06-02T12:00:00.0009Z' })).toEqual([]);
    expect(broken('Immunization', { administeredAt: '2024-06-02T12:00:00.0011Z' })).toEqual([
      'administeredAt DATE_IN_FUTURE',
    ]);
  });

  it('ADMINISTERED_BEFORE_BIRTH: before the birth day’s first moment anywhere, within one millisecond', () => {
    // 2024-05-01 begins at 2024-04-30T10:00:00Z (UTC+14:00).
    const birth = { birthDate: '2024-05-01' };
    for (const strict of [false, true]) {
      if (strict) onStrictEngine();
      expect(
        broken('Immunization', { administeredAt: '2024-04-30T09:59:59.9999Z' }, birth),
        `${strict}`,
      ).toEqual(['administeredAt ADMINISTERED_BEFORE_BIRTH']);
      expect(
        broken('Immunization', { administeredAt: '2024-04-30T10:00:00.0001Z' }, birth),
        `${strict}`,
      ).toEqual([]);
      expect(
        broken('Immunization', { administeredAt: '2024-04-30T12:00:00+02:00' }, birth),
        `${strict}`,
      ).toEqual([]);
    }
  });
});
