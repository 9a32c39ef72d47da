// Substances the patient reacts to (FHIR AllergyIntolerance); active ones go on the emergency card.
import type { KindDescription } from '../kind-description';
import { exportAllergy } from '../fhir-export-records';
import { mapAllergy } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import {
  ALLERGY_CATEGORIES,
  ALLERGY_CLINICAL_STATUSES,
  ALLERGY_CRITICALITIES,
  ALLERGY_SEVERITIES,
  ALLERGY_VERIFICATIONS,
  AllergySchema,
} from '../record-schemas';

export const ALLERGY = {
  slug: 'allergies',
  schema: AllergySchema,
  streamType: 'allergy',
  authorship: 'shared',
  fhir: {
    resource: 'AllergyIntolerance',
    export: exportAllergy,
    import: [
      { resourceType: 'AllergyIntolerance', shape: IMPORT_SCHEMAS.AllergyIntolerance, map: mapAllergy },
    ],
  },
  clinicalDate: ['onsetDate', 'recordedAt'],
  search: {
    substance: 3,
    category: 1,
    reaction: 2,
    'reactions.description': 1,
    'reactions.notes': 1,
    notes: 1,
  },
  screen: {
    section: 'chart',
    order: 30,
    icon: 'virus',
    title: 'substance',
    summary: ['verificationStatus', 'severity', 'reaction', 'category'],
    stampedOnAdd: ['recordedAt'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'substance', type: 'text', required: true },
      { name: 'category', type: 'select', options: ALLERGY_CATEGORIES, enumName: 'allergyCategory' },
      { name: 'reaction', type: 'text' },
      { name: 'severity', type: 'select', options: ALLERGY_SEVERITIES, enumName: 'severity' },
      {
        name: 'verificationStatus',
        type: 'select',
        options: ALLERGY_VERIFICATIONS,
        enumName: 'allergyVerification',
      },
      {
        name: 'criticality',
        type: 'select',
        options: ALLERGY_CRITICALITIES,
        enumName: 'allergyCriticality',
      },
      { name: 'onsetDate', type: 'partialDate' },
      { name: 'lastOccurrence', type: 'partialDate' },
      { name: 'active', type: 'boolean', initial: true },
      {
        name: 'clinicalStatus',
        type: 'select',
        options: ALLERGY_CLINICAL_STATUSES,
        enumName: 'allergyClinicalStatus',
      },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    substance: 'Penicillin',
    codes: [{ system: 'http://snomed.info/sct', code: '764146007', display: 'Penicillin' }],
    category: 'medication',
    reaction: 'Hives',
    severity: 'moderate',
    reactions: [
      {
        manifestations: [
          {
            text: 'Hives',
            codes: [{ system: 'http://snomed.info/sct', code: '247472004', display: 'Hives' }],
          },
        ],
        severity: 'moderate',
        onset: '2009-06-15',
        description: 'Rash over the trunk an hour after the first dose.',
        notes: 'Settled with an antihistamine.',
        substance: {
          text: 'Amoxicillin',
          codes: [{ system: 'http://snomed.info/sct', code: '372687004', display: 'Amoxicillin' }],
        },
        exposureRoute: {
          text: 'Oral route',
          codes: [{ system: 'http://snomed.info/sct', code: '26643006', display: 'Oral route' }],
        },
      },
    ],
    verificationStatus: 'confirmed',
    criticality: 'high',
    onsetDate: '2009-06-15',
    recordedAt: p.created,
    active: true,
    clinicalStatus: 'active',
    notes: 'Tolerates cephalosporins.',
    lastOccurrence: '2009-06',
  }),
} as const satisfies KindDescription<typeof AllergySchema>;
