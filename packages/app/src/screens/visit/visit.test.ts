import { describe, expect, it } from 'vitest';
import { exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import type { StoredRecord } from '@hale/client';
import { visitOf, type VisitRecords } from './visit';

const DR = 'dr-account';
const stored = <K extends RecordKind>(kind: K, over: Partial<RecordOf<K>>, by = DR): StoredRecord<K> => ({
  kind,
  record: exampleRecord(kind, over),
  author: 'd',
  by,
  conflict: false,
  conflictData: null,
  rv: 1,
});

const encounter = stored('Encounter', {
  id: '01J0000000000000000000ENC1',
  clinicianId: DR,
  startedAt: '2026-03-02T09:00:00Z',
  endedAt: '2026-03-02T10:00:00Z',
  status: 'finished',
});
const NOW = Date.parse('2026-03-10T00:00:00Z');
const NONE: VisitRecords = {
  notes: [],
  versions: [],
  conditions: [],
  labs: [],
  medications: [],
  plans: [],
  appointments: [],
};

describe('a visit as the patient reads it', () => {
  it("results of the visit's clinician during it (or the day after), each with its move from the test's result before it", () => {
    const lab = (testName: string, value: number, effectiveAt: string, createdAt: string, by = DR) =>
      stored('LabResult', { testName, value, units: 'mmol/L', effectiveAt, createdAt, status: 'final' }, by);
    const labs = [
      lab('HbA1c', 8.1, '2025-09-01', '2025-09-01T10:00:00Z', 'patient'),
      lab('HbA1c', 6.4, '2026-03-02T09:10:00Z', '2026-03-02T09:30:00Z'),
      lab('Glucose', 5.2, '2026-03-03T08:00:00Z', '2026-03-03T08:30:00Z'),
      // Two days after: another time's result. The patient's own reading during the visit: not the visit's.
      lab('Lipids', 3.1, '2026-03-04T12:00:00Z', '2026-03-04T12:00:00Z'),
      lab('Glucose', 9.9, '2026-03-02T09:20:00Z', '2026-03-02T09:20:00Z', 'patient'),
    ];
    const v = visitOf(encounter, { ...NONE, labs }, NOW);
    expect(
      v.results.map((r) => `${r.lab.testName} ${String(r.lab.value)} ${r.trend?.direction ?? '-'}`),
    ).toEqual(['Glucose 5.2 down', 'HbA1c 6.4 down']);
    expect(v.results[1]?.trend?.from).toBe(8.1);
  });

  it('medicines started and stopped, conditions found, a plan with what changed, the next appointment', () => {
    const started = stored('Medication', { name: 'Metformin', active: true, startDate: '2026-03-02' });
    const stopped = stored('Medication', {
      name: 'Gliclazide',
      active: false,
      startDate: '2024-01-01',
      endDate: '2026-03-02',
    });
    const older = stored('Medication', { name: 'Aspirin', active: true, startDate: '2020-01-01' });
    const found = stored('Condition', {
      name: 'Type 2 diabetes',
      clinicalStatus: 'active',
      recordedAt: '2026-03-02T09:40:00Z',
    });
    const earlier = stored('Condition', {
      name: 'Asthma',
      clinicalStatus: 'active',
      recordedAt: '2019-01-01T00:00:00Z',
    });
    const base = exampleRecord('TreatmentPlan', {});
    const plan = stored('TreatmentPlan', {
      summary: 'Diabetes care',
      details: 'Metformin 500 mg twice daily',
      status: 'active',
      effectiveFrom: '2025-09-01',
      effectiveTo: '2026-09-01',
      version: 2,
      provenance: { ...base.provenance, at: '2026-03-02T09:50:00Z' },
      versions: [
        {
          version: 1,
          summary: 'Diabetes care',
          details: 'Diet and exercise',
          status: 'active',
          effectiveFrom: '2025-09-01',
          effectiveTo: '2026-09-01',
          provenance: { ...base.provenance, at: '2025-09-01T10:00:00Z' },
        },
      ],
    });
    const appointment = (startAt: string, providerId: string, status: RecordOf<'Appointment'>['status']) =>
      exampleRecord('Appointment', { startAt, endAt: startAt.replace('T09', 'T10'), providerId, status });
    const v = visitOf(
      encounter,
      {
        ...NONE,
        medications: [started, stopped, older],
        conditions: [found, earlier],
        plans: [plan],
        appointments: [
          appointment('2026-04-01T09:00:00Z', 'another', 'scheduled'),
          appointment('2026-04-15T09:00:00Z', DR, 'scheduled'),
          appointment('2026-03-20T09:00:00Z', DR, 'canceled'),
          appointment('2026-01-20T09:00:00Z', DR, 'completed'),
        ],
      },
      NOW,
    );
    expect(v.started.map((m) => m.name)).toEqual(['Metformin']);
    expect(v.stopped.map((m) => m.name)).toEqual(['Gliclazide']);
    expect(v.found.map((c) => c.name)).toEqual(['Type 2 diabetes']);
    expect(v.plans).toHaveLength(1);
    expect(v.plans[0]?.from).toBe(1);
    // The same clinician's first, before an earlier one with someone else.
    expect(v.next?.startAt).toBe('2026-04-15T09:00:00Z');
    expect(v.clinicianId).toBe(DR);
  });

  it('an empty visit has nothing in any part; a running one counts up to now', () => {
    const running = stored('Encounter', { ...encounter.record, status: 'in-progress' });
    delete (running.record as { endedAt?: string }).endedAt;
    const lab = stored('LabResult', {
      testName: 'CRP',
      value: 4,
      effectiveAt: '2026-03-08T09:00:00Z',
      createdAt: '2026-03-08T09:00:00Z',
      status: 'final',
    });
    expect(visitOf(encounter, NONE, NOW)).toMatchObject({
      notes: [],
      found: [],
      results: [],
      started: [],
      stopped: [],
      plans: [],
      next: undefined,
    });
    expect(visitOf(encounter, { ...NONE, labs: [lab] }, NOW).results).toEqual([]);
    expect(visitOf(running, { ...NONE, labs: [lab] }, NOW).results.map((r) => r.lab.testName)).toEqual([
      'CRP',
    ]);
    // A visit the patient noted names no clinician; its results are the patient's own.
    const own = stored('Encounter', { ...running.record }, running.record.patientId);
    delete (own.record as { clinicianId?: string }).clinicianId;
    delete (own.record as { endedAt?: string }).endedAt;
    const mine = { ...lab, by: running.record.patientId };
    const noted = visitOf(own, { ...NONE, labs: [mine] }, NOW);
    expect(noted.clinicianId).toBeUndefined();
    expect(noted.results.map((r) => r.lab.testName)).toEqual(['CRP']);
  });
});
