/**
 * Home's next steps: what the person has to do, ranked. Pure.
 *
 * | rank | step | when |
 * |---|---|---|
 * | overdue | a vaccine's next dose | its due day passed and no later dose of that vaccine is recorded |
 * | overdue | a plan's re-check | an active plan's re-check day passed with no result of that test since the plan's version |
 * | to acknowledge | a treatment plan | active, its current version not acknowledged |
 * | this week | an appointment | scheduled, starting within 7 days |
 * | recent visit | a visit's card | an encounter started in the last 14 days, finished or running (visit.ts) |
 * | soon | a vaccine's next dose; a re-check; an appointment | due within 30 days; starting within 30 days |
 * | to start | import, the emergency card, allergies | the chart holds no clinical record yet |
 *
 * Invariants: within a rank, the earliest first (recent visits: the newest first); at most `MAX_STEPS` steps.
 */
import { labTestKey, type StoredRecord } from '@hale/client';
import { recentVisits } from '../visit/visit';

export const MAX_STEPS = 8;
const DAY = 24 * 3_600_000;

export type Rank = 'overdue' | 'acknowledge' | 'week' | 'recent' | 'soon' | 'start';
const RANKS: readonly Rank[] = ['overdue', 'acknowledge', 'week', 'recent', 'soon', 'start'];

export type Step =
  | {
      readonly rank: 'overdue' | 'soon';
      readonly what: 'dose';
      readonly id: string;
      readonly vaccine: string;
      readonly due: string;
    }
  | {
      readonly rank: 'overdue' | 'soon';
      readonly what: 'recheck';
      readonly id: string;
      readonly test: string;
      readonly due: string;
    }
  | {
      readonly rank: 'acknowledge';
      readonly what: 'plan';
      readonly id: string;
      readonly summary: string;
      readonly by: string;
    }
  | {
      readonly rank: 'week' | 'soon';
      readonly what: 'appointment';
      readonly id: string;
      readonly at: string;
      readonly with: string;
      readonly location: string | undefined;
    }
  | {
      readonly rank: 'recent';
      readonly what: 'visit';
      readonly id: string;
      readonly at: string;
      readonly with: string | undefined;
    }
  | {
      readonly rank: 'start';
      readonly what: 'import' | 'emergency' | 'allergies';
      readonly id: string;
      readonly due?: undefined;
    };

export interface ChartNow {
  readonly immunizations: readonly StoredRecord<'Immunization'>[];
  readonly plans: readonly StoredRecord<'TreatmentPlan'>[];
  readonly appointments: readonly StoredRecord<'Appointment'>[];
  readonly encounters: readonly StoredRecord<'Encounter'>[];
  /** The newest lab results (a re-check is done once one of its test is dated after the plan's version). */
  readonly labs: readonly Pick<
    StoredRecord<'LabResult'>['record'],
    'testName' | 'testCode' | 'effectiveAt' | 'status'
  >[];
  /** No clinical record of any kind is held. */
  readonly empty: boolean;
}

const dayOf = (iso: string): string => iso.slice(0, 10);

/** Each vaccine's next dose still owed: from its newest dose given, when that dose names one. */
const dosesOwed = (immunizations: ChartNow['immunizations']): StoredRecord<'Immunization'>[] => {
  const newest = new Map<string, StoredRecord<'Immunization'>>();
  for (const i of immunizations) {
    const key = i.record.vaccineName.trim().toLowerCase();
    const held = newest.get(key);
    if (held === undefined || i.record.administeredAt > held.record.administeredAt) newest.set(key, i);
  }
  return [...newest.values()].filter((i) => i.record.nextDoseDate !== undefined);
};

/** The time a step is ranked by within its rank ('' keeps the order they were added in). */
const whenOf = (s: Step): string =>
  s.what === 'dose' || s.what === 'recheck' ? s.due : s.what === 'appointment' ? s.at : '';

export function nextSteps(chart: ChartNow, now: number): Step[] {
  const today = dayOf(new Date(now).toISOString());
  const in30 = dayOf(new Date(now + 30 * DAY).toISOString());
  const steps: Step[] = [];
  for (const i of dosesOwed(chart.immunizations)) {
    const due = dayOf(i.record.nextDoseDate ?? '');
    const rank = due < today ? 'overdue' : due <= in30 ? 'soon' : null;
    if (rank !== null)
      steps.push({ rank, what: 'dose', id: i.record.id, vaccine: i.record.vaccineName, due });
  }
  for (const p of chart.plans) {
    const r = p.record;
    if (r.status === 'active' && r.acknowledgement?.version !== r.version)
      steps.push({ rank: 'acknowledge', what: 'plan', id: r.id, summary: r.summary, by: r.authorId });
    const check = r.recheck;
    if (r.status !== 'active' || check === undefined) continue;
    const key = labTestKey(check);
    const since = dayOf(r.provenance.at);
    const done = chart.labs.some(
      (l) =>
        labTestKey(l) === key &&
        dayOf(l.effectiveAt) >= since &&
        l.status !== 'entered-in-error' &&
        l.status !== 'cancelled',
    );
    const rank = done ? null : check.due < today ? 'overdue' : check.due <= in30 ? 'soon' : null;
    if (rank !== null) steps.push({ rank, what: 'recheck', id: r.id, test: check.testName, due: check.due });
  }
  for (const a of chart.appointments) {
    const r = a.record;
    const start = Date.parse(r.startAt);
    if (r.status !== 'scheduled' || Date.parse(r.endAt) < now || start > now + 30 * DAY) continue;
    steps.push({
      rank: start <= now + 7 * DAY ? 'week' : 'soon',
      what: 'appointment',
      id: r.id,
      at: r.startAt,
      with: r.providerId,
      location: r.location,
    });
  }
  for (const e of recentVisits(chart.encounters, now))
    steps.push({
      rank: 'recent',
      what: 'visit',
      id: e.record.id,
      at: e.record.startedAt,
      with: e.record.clinicianId ?? e.by,
    });
  if (chart.empty)
    for (const what of ['import', 'emergency', 'allergies'] as const)
      steps.push({ rank: 'start', what, id: what });
  return steps
    .map((s, order) => ({ s, order }))
    .sort(
      (a, b) =>
        RANKS.indexOf(a.s.rank) - RANKS.indexOf(b.s.rank) ||
        whenOf(a.s).localeCompare(whenOf(b.s)) ||
        a.order - b.order,
    )
    .map((x) => x.s)
    .slice(0, MAX_STEPS);
}
