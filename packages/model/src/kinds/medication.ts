// What the patient takes (FHIR MedicationStatement; prescriptions import as medications too, and export
// as the MedicationRequest they came from).
import type { KindDescription } from '../kind-description';
import { exportMedication } from '../fhir-export-records';
import { mapMedicationRequest, mapMedicationStatement } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { MEDICATION_FOOD, MEDICATION_STATUSES, MedicationSchema } from '../record-schemas';

const SNOMED = 'http://snomed.info/sct';

export const MEDICATION = {
  slug: 'medications',
  schema: MedicationSchema,
  streamType: 'medication',
  authorship: 'shared',
  fhir: {
    resource: 'MedicationStatement',
    // A prescription imported keeps its kind of resource (fhir-export-records.ts `medicationResourceOf`).
    alsoExports: ['MedicationRequest'],
    export: exportMedication,
    import: [
      {
        resourceType: 'MedicationStatement',
        shape: IMPORT_SCHEMAS.MedicationStatement,
        map: mapMedicationStatement,
      },
      {
        resourceType: 'MedicationRequest',
        shape: IMPORT_SCHEMAS.MedicationRequest,
        map: mapMedicationRequest,
      },
    ],
  },
  clinicalDate: ['startDate'],
  search: {
    name: 3,
    dose: 1,
    frequency: 1,
    route: 1,
    dosageText: 1,
    instructions: 1,
    reason: 1.5,
    notes: 1,
    'additionalInstructions.text': 1,
    'moreDosages.text': 1,
  },
  screen: {
    section: 'chart',
    order: 50,
    icon: 'pill',
    title: 'name',
    summary: ['dose', 'frequency', 'reason'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'name', type: 'text', required: true },
      { name: 'dose', type: 'text' },
      { name: 'frequency', type: 'text' },
      { name: 'route', type: 'text' },
      { name: 'dosageText', type: 'textarea' },
      { name: 'instructions', type: 'textarea' },
      { name: 'reason', type: 'text' },
      { name: 'startDate', type: 'partialDate' },
      { name: 'endDate', type: 'partialDate' },
      { name: 'schedule.times', type: 'times' },
      { name: 'schedule.food', type: 'select', options: MEDICATION_FOOD, enumName: 'medicationFood' },
      { name: 'schedule.asNeeded', type: 'boolean' },
      { name: 'active', type: 'boolean', initial: true },
      { name: 'status', type: 'select', options: MEDICATION_STATUSES, enumName: 'medicationStatus' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    name: 'Lisinopril',
    codes: [
      {
        system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
        code: '314076',
        display: 'lisinopril 10 MG Oral Tablet',
      },
    ],
    dose: '10 mg',
    frequency: 'once daily',
    route: 'by mouth',
    routes: [{ text: 'by mouth', codes: [{ system: SNOMED, code: '26643006', display: 'Oral route' }] }],
    dosageText: 'One 10 mg tablet once a day.',
    instructions: 'Take in the morning with water.',
    active: true,
    status: 'active',
    startDate: '2023-11-01',
    endDate: '2025-11-01',
    schedule: { times: ['08:00'], food: 'with', asNeeded: false },
    prescriberId: p.providerId,
    reason: 'Hypertension',
    reasons: [
      {
        text: 'Hypertension',
        codes: [{ system: SNOMED, code: '38341003', display: 'Hypertensive disorder' }],
      },
    ],
    additionalInstructions: [
      { text: 'Swallow whole', codes: [{ system: SNOMED, code: '421521009', display: 'Swallow whole' }] },
    ],
    moreDosages: [
      {
        text: '20 mg once daily from week 3 if tolerated',
        route: { text: 'by mouth', codes: [{ system: SNOMED, code: '26643006', display: 'Oral route' }] },
        instructions: 'Check your blood pressure first.',
        additionalInstructions: [
          { text: 'In the morning', codes: [{ system: SNOMED, code: '73775008', display: 'Morning' }] },
        ],
      },
    ],
    notes: 'Started after the May visit.',
    validFrom: '2023-11-02',
    assertedDate: '2023-11-01',
  }),
} as const satisfies KindDescription<typeof MedicationSchema>;
