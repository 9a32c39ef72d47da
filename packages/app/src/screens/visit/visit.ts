/**
 * A visit as the patient reads it, from the encounter's records on this device (pure; visit.test.ts). No
 * record kind of its own: each part is the signed records of the encounter's clinician, chosen so.
 *
 * | part | which records |
 * |---|---|
 * | notes | the encounter's signed or amended notes, as they read now (visit-content.ts `signedNotesOf`) |
 * | found | conditions recorded, or with an onset, during the visit |
 * | results | lab results entered or taken during the visit, each with its move from the test's result before it |
 * | started / stopped | medications started during the visit; those ended then, or marked not active then |
 * | plans | treatment plans whose current version was written during the visit, and the version before it |
 * | next | the first appointment after the visit that is not cancelled or declined: with the same clinician first |
 *
 * Invariants:
 * - Found and changed are the visit clinician's records only (the last writer of each: `by`).
 * - "During" is from the encounter's start to its end (now while it runs) and one day after: what a
 *   clinician enters right after closing the visit belongs to it.
 * - Conditions and results entered in error, and cancelled results, are left out.
 */
import type { RecordOf, StoredRecord } from '@hale/client';
import { trendsOf, type Trend } from '../../workspace/labs/lab-trend';
import { signedNotesOf, within, type SignedNote } from '../../workspace/summary/visit-content';

const DAY = 24 * 3_600_000;
type Plan = RecordOf<'TreatmentPlan'>;

export interface PlanChange {
  readonly plan: Plan;
  /** The version before this visit's (what changed: `session.care.plans.diff`), or null for a new plan. */
  readonly from: number | null;
}

export interface Visit {
  readonly encounter: RecordOf<'Encounter'>;
  /** The clinician of the visit: the encounter's, else who wrote it unless that is the patient. */
  readonly clinicianId: string | undefined;
  readonly notes: readonly SignedNote[];
  readonly found: readonly RecordOf<'Condition'>[];
  readonly results: readonly { lab: RecordOf<'LabResult'>; trend: Trend | undefined }[];
  readonly started: readonly RecordOf<'Medication'>[];
  readonly stopped: readonly RecordOf<'Medication'>[];
  readonly plans: readonly PlanChange[];
  readonly next: RecordOf<'Appointment'> | undefined;
}

/** What this device holds, each kind in any order. */
export interface VisitRecords {
  readonly notes: readonly RecordOf<'MedicalNote'>[];
  readonly versions: readonly RecordOf<'NoteVersion'>[];
  readonly conditions: readonly StoredRecord<'Condition'>[];
  /** Every lab result held: a result's move is from the test's result before it, whoever wrote that. */
  readonly labs: readonly StoredRecord<'LabResult'>[];
  readonly medications: readonly StoredRecord<'Medication'>[];
  readonly plans: readonly StoredRecord<'TreatmentPlan'>[];
  readonly appointments: readonly RecordOf<'Appointment'>[];
}

export const visitWindow = (encounter: RecordOf<'Encounter'>, now: number): [number, number] => {
  const end = encounter.endedAt === undefined ? now : Date.parse(encounter.endedAt);
  return [Date.parse(encounter.startedAt), end + DAY];
};

const planChange = (plan: Plan): PlanChange => ({
  plan,
  from: Math.max(0, ...plan.versions.map((v) => v.version).filter((v) => v < plan.version)) || null,
});

const CLOSED_APPOINTMENTS = new Set(['canceled', 'declined']);

export function visitOf(
  stored: StoredRecord<'Encounter'>,
  records: VisitRecords,
  now: number = Date.now(),
): Visit {
  const encounter = stored.record;
  const [from, to] = visitWindow(encounter, now);
  const during = (at: string | undefined): boolean => within(at, from, to);
  // Who wrote the visit's records; a clinician only when it is not the patient (a visit they noted).
  const writer = encounter.clinicianId ?? stored.by;
  const clinicianId = writer === encounter.patientId ? undefined : writer;
  const theirs = <K extends 'Condition' | 'LabResult' | 'Medication' | 'TreatmentPlan'>(
    list: readonly StoredRecord<K>[],
  ): RecordOf<K>[] => list.filter((r) => r.by === writer).map((r) => r.record);
  const newestFirst = records.labs
    .map((l) => l.record)
    .sort((a, b) => b.effectiveAt.localeCompare(a.effectiveAt));
  const trends = trendsOf(newestFirst);
  const results = theirs(records.labs)
    .filter((l) => l.status !== 'entered-in-error' && l.status !== 'cancelled')
    .filter((l) => during(l.createdAt) || during(l.effectiveAt))
    .sort((a, b) => a.testName.localeCompare(b.testName))
    .map((lab) => ({ lab, trend: trends.get(lab.id) }));
  const found = theirs(records.conditions).filter(
    (c) =>
      c.verificationStatus !== 'entered-in-error' &&
      (during(c.recordedAt ?? c.createdAt) || during(c.onsetDate)),
  );
  const medications = theirs(records.medications);
  const started = medications.filter(
    (m) => during(m.startDate) || (m.startDate === undefined && during(m.createdAt)),
  );
  const stopped = medications.filter(
    (m) =>
      !started.includes(m) &&
      (during(m.endDate) || (!m.active && m.endDate === undefined && during(m.updatedAt))),
  );
  const plans = theirs(records.plans)
    .filter((p) => p.status !== 'draft' && during(p.provenance.at))
    .map(planChange);
  const start = Date.parse(encounter.startedAt);
  const upcoming = records.appointments
    .filter((a) => !CLOSED_APPOINTMENTS.has(a.status) && Date.parse(a.startAt) > Math.max(start, to - DAY))
    .sort((a, b) => a.startAt.localeCompare(b.startAt));
  const next = upcoming.find((a) => a.providerId === writer) ?? upcoming[0];
  return {
    encounter,
    clinicianId,
    notes: signedNotesOf(encounter.id, records.notes, records.versions),
    found,
    results,
    started,
    stopped,
    plans,
    next,
  };
}

/** The visits to show first: finished or running encounters that started within `days`, newest first. */
export const recentVisits = (
  encounters: readonly StoredRecord<'Encounter'>[],
  now: number,
  days = 14,
): StoredRecord<'Encounter'>[] =>
  encounters
    .filter((e) => e.record.status === 'finished' || e.record.status === 'in-progress')
    .filter((e) => {
      const t = Date.parse(e.record.startedAt);
      return t <= now && t >= now - days * DAY;
    })
    .sort((a, b) => b.record.startedAt.localeCompare(a.record.startedAt));
