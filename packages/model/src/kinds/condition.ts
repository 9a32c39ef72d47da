// A problem or diagnosis (FHIR Condition): the problem list; active ones go on the emergency card.
import type { KindDescription } from '../kind-description';
import { exportCondition } from '../fhir-kinds';
import { mapCondition } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import {
  CONDITION_CATEGORIES,
  CONDITION_CLINICAL_STATUSES,
  CONDITION_SEVERITIES,
  CONDITION_VERIFICATION_STATUSES,
  ConditionSchema,
} from '../record-schemas';

export const CONDITION = {
  slug: 'conditions',
  schema: ConditionSchema,
  streamType: 'condition',
  authorship: 'shared',
  fhir: {
    resource: 'Condition',
    export: exportCondition,
    import: [{ resourceType: 'Condition', shape: IMPORT_SCHEMAS.Condition, map: mapCondition }],
  },
  clinicalDate: ['onsetDate', 'recordedAt'],
  search: { name: 3, bodySite: 1, notes: 1 },
  screen: {
    section: 'chart',
    order: 40,
    icon: 'heartbeat',
    title: 'name',
    summary: ['clinicalStatus', 'onsetDate', 'severity'],
    stampedOnAdd: ['recordedAt'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'name', type: 'text', required: true },
      {
        name: 'clinicalStatus',
        type: 'select',
        options: CONDITION_CLINICAL_STATUSES,
        enumName: 'conditionClinicalStatus',
        required: true,
        initial: 'active',
      },
      {
        name: 'verificationStatus',
        type: 'select',
        options: CONDITION_VERIFICATION_STATUSES,
        enumName: 'conditionVerificationStatus',
      },
      {
        name: 'category',
        type: 'select',
        options: CONDITION_CATEGORIES,
        enumName: 'conditionCategory',
        initial: 'problem-list-item',
      },
      { name: 'severity', type: 'select', options: CONDITION_SEVERITIES, enumName: 'severity' },
      { name: 'bodySite', type: 'text' },
      { name: 'onsetDate', type: 'partialDate' },
      { name: 'abatementDate', type: 'partialDate' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    name: 'Essential hypertension',
    codes: [
      { system: 'http://snomed.info/sct', code: '59621000', display: 'Essential hypertension' },
      { system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'I10' },
    ],
    clinicalStatus: 'resolved',
    verificationStatus: 'confirmed',
    category: 'problem-list-item',
    severity: 'moderate',
    bodySite: 'Cardiovascular system',
    bodySites: [
      {
        text: 'Cardiovascular system',
        codes: [
          {
            system: 'http://snomed.info/sct',
            code: '113257007',
            display: 'Structure of cardiovascular system',
          },
        ],
      },
    ],
    onsetDate: '2019-03',
    abatementDate: '2024-04-20',
    recordedAt: p.created,
    notes: 'Controlled with lifestyle changes.',
  }),
} as const satisfies KindDescription<typeof ConditionSchema>;
