import { describe, expect, it } from 'vitest';
import type { StoredRecord } from '@hale/client';
import { MAX_STEPS, nextSteps, type ChartNow } from './next-steps';

const NOW = Date.parse('2026-11-27T10:00:00Z');
const DAY = 24 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const stored = <K extends 'Immunization' | 'TreatmentPlan' | 'Appointment' | 'Encounter'>(
  kind: K,
  record: Record<string, unknown>,
): StoredRecord<K> =>
  ({
    kind,
    record,
    author: 'd',
    by: 'a',
    conflict: false,
    conflictData: null,
    rv: 1,
  }) as unknown as StoredRecord<K>;
const dose = (id: string, vaccine: string, given: string, next?: string) =>
  stored('Immunization', { id, vaccineName: vaccine, administeredAt: given, nextDoseDate: next });
const plan = (id: string, version: number, acked?: number, status = 'active') =>
  stored('TreatmentPlan', {
    id,
    summary: `plan ${id}`,
    authorId: 'dr',
    status,
    version,
    ...(acked === undefined ? {} : { acknowledgement: { by: 'p', at: iso(NOW), version: acked } }),
  });
const visit = (id: string, inDays: number, status = 'scheduled') =>
  stored('Appointment', {
    id,
    providerId: 'dr',
    startAt: iso(NOW + inDays * DAY),
    endAt: iso(NOW + inDays * DAY + 1_800_000),
    status,
  });
const encounter = (id: string, daysAgo: number, status = 'finished') =>
  stored('Encounter', { id, clinicianId: 'dr', startedAt: iso(NOW - daysAgo * DAY), status });
const EMPTY: ChartNow = {
  immunizations: [],
  plans: [],
  appointments: [],
  encounters: [],
  labs: [],
  empty: false,
};

describe('next steps', () => {
  it('ranks overdue doses, then plans to acknowledge, then this week, then recent visits, then soon', () => {
    const steps = nextSteps(
      {
        immunizations: [
          dose('i1', 'Hepatitis B', '2026-05-01', '2026-11-01'),
          dose('i2', 'Tetanus', '2016-12-10', '2026-12-10'),
          dose('i3', 'Influenza', '2025-10-01', '2026-10-01'),
          // A later dose of influenza was given: the earlier one's next dose is not owed.
          dose('i4', 'influenza', '2026-10-03'),
        ],
        plans: [plan('p1', 2, 1), plan('p2', 1, 1), plan('p3', 1, undefined, 'draft')],
        appointments: [
          visit('a1', 20),
          visit('a2', 3),
          visit('a3', 2, 'canceled'),
          visit('a4', 60),
          visit('a5', -2),
        ],
        encounters: [
          encounter('e1', 3),
          encounter('e2', 1),
          encounter('e3', 20),
          encounter('e4', 2, 'cancelled'),
          encounter('e5', -1, 'planned'),
        ],
        labs: [],
        empty: false,
      },
      NOW,
    );
    expect(steps.map((s) => `${s.rank}:${s.id}`)).toEqual([
      'overdue:i1',
      'acknowledge:p1',
      'week:a2',
      'recent:e2',
      'recent:e1',
      'soon:i2',
      'soon:a1',
    ]);
  });

  it('an empty chart starts with import, the emergency card and allergies; at most MAX_STEPS', () => {
    expect(nextSteps({ ...EMPTY, empty: true }, NOW).map((s) => s.what)).toEqual([
      'import',
      'emergency',
      'allergies',
    ]);
    const many = Array.from({ length: 12 }, (_, n) => visit(`a${n}`, 1 + n / 10));
    expect(nextSteps({ ...EMPTY, appointments: many }, NOW)).toHaveLength(MAX_STEPS);
    expect(nextSteps(EMPTY, NOW)).toEqual([]);
  });

  it("a plan's re-check: overdue, or soon, until a result of its test is dated after the plan's version", () => {
    const withCheck = (id: string, due: string, testCode?: string) =>
      stored('TreatmentPlan', {
        id,
        summary: `plan ${id}`,
        authorId: 'dr',
        status: 'active',
        version: 1,
        acknowledgement: { by: 'p', at: iso(NOW), version: 1 },
        provenance: { by: 'dr', deviceId: 'd', at: '2026-09-01T10:00:00Z' },
        recheck: { testName: 'Potassium', ...(testCode === undefined ? {} : { testCode }), due },
      });
    const plans = [withCheck('late', '2026-11-01'), withCheck('near', '2026-12-10', '2823-3')];
    expect(nextSteps({ ...EMPTY, plans }, NOW).map((s) => `${s.rank}:${s.what}:${s.id}`)).toEqual([
      'overdue:recheck:late',
      'soon:recheck:near',
    ]);
    // A result of the test before the plan's version does not count; one after does (by code, else by name).
    const lab = (testName: string, effectiveAt: string, testCode?: string) => ({
      testName,
      effectiveAt,
      status: 'final' as const,
      ...(testCode === undefined ? {} : { testCode }),
    });
    expect(
      nextSteps(
        { ...EMPTY, plans, labs: [lab('potassium', '2026-08-01'), lab('K', '2026-10-01', '2823-3')] },
        NOW,
      ).map((s) => s.id),
    ).toEqual(['late']);
    expect(
      nextSteps({ ...EMPTY, plans, labs: [lab('Potassium', '2026-10-05')] }, NOW).map((s) => s.id),
    ).toEqual(['near']);
  });
});
