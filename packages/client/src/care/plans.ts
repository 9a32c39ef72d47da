/**
 * Treatment plans as a patient reads and acknowledges them and a clinician sees them acknowledged: what
 * changed between two versions, and the acknowledgement of the current one.
 *
 * Invariants: a plan's versions are its history (`versions`, oldest first) and the record itself (the
 * current one); a diff compares the content fields of two of them (summary, details, status, effective
 * window, goal, re-check): a goal as its test and target (`HbA1c <7.0`), a re-check as its test and day
 * (`Potassium 2026-03-01`). Acknowledging names the plan's current version (`acknowledgement.version`); the model refuses
 * one by anyone but the writer, and any going back. An acknowledgement of an earlier version is shown as
 * not current: the patient has a newer version to acknowledge.
 * Failure modes (CareError): a plan not held, or a version it never had (NOT_FOUND); acknowledging a
 * draft (WRONG_STATE) or another patient's plan (NOT_YOURS).
 */
import type { RecordOf } from '@hale/model';
import type { DeviceSession } from '../session/session';
import { CareError } from './errors';
import { iso } from './time-zones';

type Plan = RecordOf<'TreatmentPlan'>;

export const PLAN_CONTENT_FIELDS = [
  'summary',
  'details',
  'status',
  'effectiveFrom',
  'effectiveTo',
  'goal',
  'recheck',
] as const;
export type PlanField = (typeof PLAN_CONTENT_FIELDS)[number];

/** One field that differs between two versions of a treatment plan. */
export interface PlanChange {
  readonly field: PlanField;
  /** Absent: the field was not set in that version. */
  readonly before?: string;
  readonly after?: string;
}

/** What changed in a treatment plan between two versions (`planDiff`). */
export interface PlanDiff {
  readonly from: number;
  readonly to: number;
  readonly changes: readonly PlanChange[];
  /** Who wrote version `to`, when, and why (its provenance). */
  readonly by: string;
  readonly at: string;
  readonly reason?: string;
}

/** A patient's acknowledgement of a treatment plan version. */
export interface PlanAcknowledgement {
  readonly version: number;
  readonly at: string;
  readonly by: string;
  /** Whether it names the plan's current version. */
  readonly current: boolean;
}

type VersionContent = Pick<Plan, PlanField | 'version' | 'provenance'>;

/** A content field as the diff says it: text as it is; a goal or a re-check as its test and target or day. */
const contentText = (value: VersionContent[PlanField]): string | undefined => {
  if (value === undefined || typeof value === 'string') return value;
  return 'target' in value ? `${value.testName} ${value.target}` : `${value.testName} ${value.due}`;
};

const versionOf = (plan: Plan, version: number): VersionContent | undefined =>
  version === plan.version ? plan : plan.versions.find((v) => v.version === version);

/** What changed from version `from` to version `to` (default: the previous version to the current one). */
export const planDiff = (plan: Plan, from = plan.version - 1, to = plan.version): PlanDiff => {
  const [a, b] = [versionOf(plan, from), versionOf(plan, to)];
  if (a === undefined || b === undefined) {
    throw new CareError('NOT_FOUND', `plan ${plan.id} has no version ${a === undefined ? from : to}`, {
      recordId: plan.id,
    });
  }
  const changes: PlanChange[] = [];
  for (const field of PLAN_CONTENT_FIELDS) {
    const [before, after] = [contentText(a[field]), contentText(b[field])];
    if (before === after) continue;
    changes.push({
      field,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
    });
  }
  return {
    from,
    to,
    changes,
    by: b.provenance.by,
    at: b.provenance.at,
    ...(b.provenance.reason === undefined ? {} : { reason: b.provenance.reason }),
  };
};

/** The patient's acknowledgement a treatment plan carries, or null. */
export const acknowledgementOf = (plan: Plan): PlanAcknowledgement | null =>
  plan.acknowledgement === undefined
    ? null
    : { ...plan.acknowledgement, current: plan.acknowledgement.version === plan.version };

export const createPlans = (deps: {
  session: Pick<DeviceSession, 'account' | 'records'>;
  now: () => number;
}) => {
  const me = deps.session.account.accountId;
  return {
    /** The patient acknowledges the plan's current version. */
    async acknowledge(planId: string): Promise<Plan> {
      const stored = await deps.session.records.get<'TreatmentPlan'>(planId);
      if (stored === null || stored.kind !== 'TreatmentPlan') {
        throw new CareError('NOT_FOUND', `no treatment plan ${planId} is held here`, { recordId: planId });
      }
      const plan = stored.record;
      if (plan.patientId !== me) {
        throw new CareError('NOT_YOURS', 'only the patient acknowledges a plan', { recordId: planId });
      }
      if (plan.status === 'draft') {
        throw new CareError('WRONG_STATE', 'a draft plan is not acknowledged: wait until it is active', {
          recordId: planId,
        });
      }
      return deps.session.records.update('TreatmentPlan', planId, {
        acknowledgement: { by: me, at: iso(deps.now()), version: plan.version },
      });
    },
  };
};
