// validateRecord's cross-field rules compare two instants of one record as instants: any offset, and to
// the nanosecond. Read with V8's Date.parse (which drops the digits past the millisecond) an end 100 ns
// before its start passed, and a consent ending 100 ns after it starts was refused.
import { describe, expect, it } from 'vitest';
import { exampleRecord } from './examples';
import type { RecordKind } from './registry';
import { validateRecord } from './validate';

/** `field: reason` of each issue of the example of `kind` with `overrides`; empty when it passes. */
const issuesOf = (kind: RecordKind, overrides: Readonly<Record<string, unknown>>): string[] => {
  const result = validateRecord(kind, { ...exampleRecord(kind), ...overrides });
  return result.ok ? [] : result.error.issues.map((issue) => `${issue.field}: ${issue.reason}`);
};

describe('validateRecord: the end of a span and its start, as instants', () => {
  it('refuses an end before its start within one millisecond', () => {
    expect(
      issuesOf('Appointment', { startAt: '2026-03-01T09:30:00.0002Z', endAt: '2026-03-01T09:30:00.0001Z' }),
    ).toEqual(['endAt: must not be before startAt']);
    expect(
      issuesOf('Encounter', {
        startedAt: '2026-03-01T09:30:00.123456789Z',
        endedAt: '2026-03-01T11:30:00.123456788+02:00',
      }),
    ).toEqual(['endedAt: must not be before startedAt']);
    expect(
      issuesOf('TreatmentPlan', {
        effectiveFrom: '2026-03-01T09:30:00.0009Z',
        effectiveTo: '2026-03-01T09:30:00.0001Z',
      }),
    ).toEqual(['effectiveTo: must not be before effectiveFrom']);
    expect(
      issuesOf('Medication', {
        startDate: '2026-03-01T09:30:00.0002Z',
        endDate: '2026-03-01T09:30:00.0001Z',
      }),
    ).toEqual(['endDate: must not be before startDate']);
  });

  it('takes an end after its start within one millisecond, or at the same instant written another way', () => {
    expect(
      issuesOf('Appointment', { startAt: '2026-03-01T09:30:00.0001Z', endAt: '2026-03-01T09:30:00.0002Z' }),
    ).toEqual([]);
    expect(
      issuesOf('Encounter', {
        startedAt: '2026-03-01T09:30:00.500000000Z',
        endedAt: '2026-03-01T11:30:00.5+02:00',
      }),
    ).toEqual([]);
  });

  it('compares offsets as instants: 11:00+02:00 is before 09:30Z', () => {
    expect(
      issuesOf('Appointment', { startAt: '2026-03-01T09:30:00Z', endAt: '2026-03-01T11:00:00+02:00' }),
    ).toEqual(['endAt: must not be before startAt']);
    expect(
      issuesOf('Appointment', { startAt: '2026-03-01T11:00:00+02:00', endAt: '2026-03-01T09:30:00Z' }),
    ).toEqual([]);
  });

  it('compares a day with an instant as before: on the instant’s own date', () => {
    expect(
      issuesOf('Medication', { startDate: '2026-03-01T08:00:00.0002+02:00', endDate: '2026-03-01' }),
    ).toEqual([]);
    expect(
      issuesOf('Medication', { startDate: '2026-03-01T08:00:00.0002+02:00', endDate: '2026-02-28' }),
    ).toEqual(['endDate: must not be before startDate']);
    expect(
      issuesOf('Medication', { startDate: '2026-03-02', endDate: '2026-03-01T23:59:59.9999-12:00' }),
    ).toEqual(['endDate: must not be before startDate']);
  });
});

describe('validateRecord: a consent’s expiresAt after its startsAt, as instants', () => {
  it('takes an expiry within one millisecond after the start', () => {
    expect(
      issuesOf('Consent', { startsAt: '2026-03-01T09:30:00.0001Z', expiresAt: '2026-03-01T09:30:00.0002Z' }),
    ).toEqual([]);
  });

  it('refuses an expiry at the start (written another way) or before it', () => {
    for (const [startsAt, expiresAt] of [
      ['2026-03-01T09:30:00.0001Z', '2026-03-01T11:30:00.0001+02:00'],
      ['2026-03-01T09:30:00.0002Z', '2026-03-01T09:30:00.0001Z'],
      ['2026-03-01T09:30:00Z', '2026-03-01T11:00:00+02:00'],
    ] as const) {
      expect(issuesOf('Consent', { startsAt, expiresAt }), `${startsAt} → ${expiresAt}`).toEqual([
        'expiresAt: must be after startsAt',
      ]);
    }
  });
});
