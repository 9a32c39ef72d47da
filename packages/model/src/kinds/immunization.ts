// A vaccine given (FHIR Immunization; the next dose due as an ImmunizationRecommendation).
import type { KindDescription } from '../kind-description';
import { exportImmunization } from '../fhir-export-records';
import { mapImmunization } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { ImmunizationSchema } from '../record-schemas';

export const IMMUNIZATION = {
  slug: 'immunizations',
  schema: ImmunizationSchema,
  streamType: 'immunization',
  authorship: 'shared',
  fhir: {
    resource: 'Immunization',
    alsoExports: ['ImmunizationRecommendation'],
    export: exportImmunization,
    import: [{ resourceType: 'Immunization', shape: IMPORT_SCHEMAS.Immunization, map: mapImmunization }],
  },
  clinicalDate: ['administeredAt'],
  search: { vaccineName: 3, vaccineCode: 0.8, performer: 1, lotNumber: 0.6, notes: 1 },
  screen: {
    section: 'chart',
    order: 60,
    icon: 'vaccine',
    title: 'vaccineName',
    summary: ['administeredAt', 'dose', 'performer'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'vaccineName', type: 'text', required: true },
      { name: 'administeredAt', type: 'partialDate', required: true },
      { name: 'dose', type: 'text' },
      { name: 'lotNumber', type: 'text' },
      { name: 'vaccineCode', type: 'text' },
      { name: 'performer', type: 'text' },
      { name: 'nextDoseDate', type: 'date' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    vaccineName: 'Tetanus, diphtheria, pertussis (Tdap)',
    vaccineCode: '115',
    administeredAt: '2024-04-12',
    dose: '0.5 mL',
    lotNumber: 'TD-88213',
    performer: 'Riverside Family Practice',
    providerId: p.providerId,
    nextDoseDate: '2034-04-12',
    proofDocumentId: p.newId(),
    notes: 'Left deltoid.',
  }),
} as const satisfies KindDescription<typeof ImmunizationSchema>;
