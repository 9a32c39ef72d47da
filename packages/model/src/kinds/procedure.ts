// Something done to the patient (FHIR Procedure): an operation, an endoscopy, a course of therapy.
import type { KindDescription } from '../kind-description';
import { exportProcedure } from '../fhir-kinds';
import { mapProcedure } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { PROCEDURE_STATUSES, ProcedureSchema } from '../record-schemas';

export const PROCEDURE = {
  slug: 'procedures',
  schema: ProcedureSchema,
  streamType: 'procedure',
  authorship: 'shared',
  fhir: {
    resource: 'Procedure',
    export: exportProcedure,
    import: [{ resourceType: 'Procedure', shape: IMPORT_SCHEMAS.Procedure, map: mapProcedure }],
  },
  clinicalDate: ['performedAt'],
  search: {
    name: 3,
    reason: 1.5,
    performer: 1,
    location: 1,
    bodySite: 1,
    outcome: 1,
    notes: 1,
    status: 0.5,
  },
  screen: {
    section: 'chart',
    order: 90,
    icon: 'bandage',
    title: 'name',
    summary: ['performedAt', 'status', 'performer'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'name', type: 'text', required: true },
      {
        name: 'status',
        type: 'select',
        options: PROCEDURE_STATUSES,
        enumName: 'procedureStatus',
        required: true,
        initial: 'completed',
      },
      { name: 'performedAt', type: 'partialDate' },
      { name: 'performedEndAt', type: 'date' },
      { name: 'performer', type: 'text' },
      { name: 'location', type: 'text' },
      { name: 'reason', type: 'text' },
      { name: 'bodySite', type: 'text' },
      { name: 'outcome', type: 'text' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    name: 'Appendectomy',
    codes: [{ system: 'http://snomed.info/sct', code: '80146002', display: 'Appendectomy' }],
    status: 'completed',
    performedAt: '2018-07-02T10:00:00Z',
    performedEndAt: '2018-07-02T11:20:00Z',
    performer: 'Dr. Chen, Riverside Hospital',
    location: 'Riverside Hospital, theatre 2',
    reason: 'Acute appendicitis',
    bodySite: 'Appendix',
    bodySites: [
      {
        text: 'Appendix',
        codes: [{ system: 'http://snomed.info/sct', code: '66754008', display: 'Appendix structure' }],
      },
    ],
    outcome: 'Uneventful recovery',
    notes: 'Laparoscopic.',
  }),
} as const satisfies KindDescription<typeof ProcedureSchema>;
