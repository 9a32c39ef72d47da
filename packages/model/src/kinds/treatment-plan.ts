// A clinician's plan (FHIR CarePlan), versioned, which the patient acknowledges; its own screens at /care/plans.
import type { KindDescription } from '../kind-description';
import { exportTreatmentPlan } from '../fhir-export-records';
import { TREATMENT_PLAN_STATUSES, TreatmentPlanSchema } from '../record-schemas';

export const TREATMENT_PLAN = {
  slug: 'plans',
  schema: TreatmentPlanSchema,
  streamType: 'treatment-plan',
  authorship: 'plan',
  // Not imported: a care plan is written in Hale by the clinician responsible for it.
  fhir: { resource: 'CarePlan', export: exportTreatmentPlan, import: [] },
  clinicalDate: ['effectiveFrom'],
  search: { summary: 2.5, details: 1 },
  screen: {
    section: 'care',
    order: 10,
    icon: 'clipboard',
    path: '/care/plans',
    title: 'summary',
    summary: ['status', 'effectiveFrom', 'effectiveTo'],
    versioned: true,
    takesReason: true,
    form: [
      { name: 'summary', type: 'text', required: true },
      { name: 'details', type: 'textarea' },
      {
        name: 'status',
        type: 'select',
        options: TREATMENT_PLAN_STATUSES,
        enumName: 'planStatus',
        required: true,
        initial: 'draft',
      },
      { name: 'effectiveFrom', type: 'date' },
      { name: 'effectiveTo', type: 'date' },
      { name: 'goal.testName', type: 'text' },
      { name: 'goal.testCode', type: 'text' },
      { name: 'goal.target', type: 'text' },
      { name: 'recheck.testName', type: 'text' },
      { name: 'recheck.testCode', type: 'text' },
      { name: 'recheck.due', type: 'date' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    authorId: p.providerId,
    summary: 'Blood pressure control',
    details: 'Lisinopril 10 mg daily; home readings twice a week; review in 3 months.',
    status: 'active',
    effectiveFrom: '2024-05-01',
    effectiveTo: '2024-08-01',
    goal: { testName: 'Systolic blood pressure', testCode: '8480-6', target: '<140' },
    recheck: { testName: 'Potassium', testCode: '2823-3', due: '2024-06-01' },
    version: 2,
    provenance: p.provenance(p.updated, 'Added home readings'),
    versions: [
      {
        version: 1,
        summary: 'Blood pressure control',
        details: 'Lisinopril 10 mg daily; review in 3 months.',
        status: 'draft',
        effectiveFrom: '2024-05-01',
        effectiveTo: '2024-08-01',
        goal: { testName: 'Systolic blood pressure', testCode: '8480-6', target: '<150' },
        recheck: { testName: 'Potassium', testCode: '2823-3', due: '2024-06-01' },
        provenance: p.provenance(p.created, 'Initial plan'),
      },
    ],
    acknowledgement: { by: p.patientId, at: '2024-05-03T07:00:00Z', version: 2 },
  }),
} as const satisfies KindDescription<typeof TreatmentPlanSchema>;
