// A visit: a clinic appointment kept, a hospital stay, a video consultation (FHIR Encounter).
import type { KindDescription } from '../kind-description';
import { exportEncounter } from '../fhir-export-records';
import { mapEncounter } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { ENCOUNTER_STATUSES, ENCOUNTER_TYPES, EncounterSchema } from '../record-schemas';

export const ENCOUNTER = {
  slug: 'encounters',
  schema: EncounterSchema,
  streamType: 'encounter',
  authorship: 'author',
  fhir: {
    resource: 'Encounter',
    export: exportEncounter,
    import: [{ resourceType: 'Encounter', shape: IMPORT_SCHEMAS.Encounter, map: mapEncounter }],
  },
  clinicalDate: ['startedAt'],
  search: { reason: 1.5, type: 1, department: 1, location: 1, encounterNumber: 1, 'visitTypes.text': 1 },
  screen: {
    section: 'care',
    order: 30,
    icon: 'stethoscope',
    title: 'reason',
    untitledIsKind: true,
    summary: ['startedAt', 'type', 'department'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'encounterNumber', type: 'text', required: true },
      {
        name: 'type',
        type: 'select',
        options: ENCOUNTER_TYPES,
        enumName: 'encounterType',
        required: true,
        initial: 'outpatient',
      },
      { name: 'reason', type: 'text' },
      { name: 'department', type: 'text' },
      { name: 'location', type: 'text' },
      { name: 'clinicianId', type: 'account' },
      { name: 'startedAt', type: 'instant', required: true },
      { name: 'endedAt', type: 'instant' },
      {
        name: 'status',
        type: 'select',
        options: ENCOUNTER_STATUSES,
        enumName: 'encounterStatus',
        required: true,
        initial: 'finished',
      },
    ],
  },
  example: (p) => ({
    ...p.base(),
    encounterNumber: 'ENC-2024-00042',
    type: 'outpatient',
    department: 'Family medicine',
    location: 'Riverside Family Practice',
    clinicianId: p.providerId,
    startedAt: '2024-05-01T09:00:00Z',
    endedAt: '2024-05-01T09:25:00Z',
    status: 'finished',
    reason: 'Hypertension follow-up',
    visitTypes: [
      {
        text: 'Follow-up visit',
        codes: [{ system: 'http://snomed.info/sct', code: '390906007', display: 'Follow-up encounter' }],
      },
    ],
  }),
} as const satisfies KindDescription<typeof EncounterSchema>;
