// What the patient takes (FHIR MedicationStatement; prescriptions import as medications too).
import type { KindDescription } from '../kind-description';
import { exportMedication } from '../fhir-export-records';
import { mapMedicationRequest, mapMedicationStatement } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { MedicationSchema } from '../record-schemas';

export const MEDICATION = {
  slug: 'medications',
  schema: MedicationSchema,
  streamType: 'medication',
  authorship: 'shared',
  fhir: {
    resource: 'MedicationStatement',
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
  search: { name: 3, dose: 1, frequency: 1, route: 1, instructions: 1, reason: 1.5 },
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
      { name: 'instructions', type: 'textarea' },
      { name: 'reason', type: 'text' },
      { name: 'startDate', type: 'partialDate' },
      { name: 'endDate', type: 'partialDate' },
      { name: 'active', type: 'boolean', initial: true },
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
    instructions: 'Take in the morning with water.',
    active: true,
    startDate: '2023-11-01',
    endDate: '2025-11-01',
    prescriberId: p.providerId,
    reason: 'Hypertension',
  }),
} as const satisfies KindDescription<typeof MedicationSchema>;
