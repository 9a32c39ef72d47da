// The patient's own details: the chart's Patient, the emergency card's name, birth date and blood type.
import type { KindDescription } from '../kind-description';
import { exportProfile } from '../fhir-export-records';
import { mapPatient } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { BLOOD_TYPES, PROFILE_STATUSES, ProfileSchema, SEXES_AT_BIRTH } from '../record-schemas';

export const PROFILE = {
  slug: 'profile',
  schema: ProfileSchema,
  streamType: 'profile',
  authorship: 'shared',
  fhir: {
    resource: 'Patient',
    export: (x, r, signature, context) => exportProfile(x, r, signature, context.profileRole(r)),
    import: [{ resourceType: 'Patient', shape: IMPORT_SCHEMAS.Patient, map: mapPatient }],
  },
  clinicalDate: [],
  search: {
    fullName: 3,
    medicalRecordNumber: 1,
    primaryCareProvider: 1,
    notes: 1,
    'names.family': 2,
    'names.given': 2,
    'identifiers.value': 1,
    'telecoms.value': 1,
  },
  screen: {
    section: 'chart',
    order: 10,
    icon: 'id',
    title: 'fullName',
    summary: ['birthDate', 'bloodType', 'primaryCareProvider'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'fullName', type: 'text', required: true },
      { name: 'birthDate', type: 'date' },
      { name: 'sexAtBirth', type: 'select', options: SEXES_AT_BIRTH, enumName: 'sexAtBirth' },
      { name: 'gender', type: 'text' },
      { name: 'bloodType', type: 'select', options: BLOOD_TYPES, enumName: 'bloodType' },
      { name: 'medicalRecordNumber', type: 'text' },
      { name: 'primaryCareProvider', type: 'text' },
      { name: 'contact.phone', type: 'text' },
      { name: 'contact.email', type: 'text' },
      { name: 'contact.address', type: 'textarea' },
      {
        name: 'status',
        type: 'select',
        options: PROFILE_STATUSES,
        enumName: 'profileStatus',
        required: true,
        initial: 'active',
      },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    fullName: 'Ada Example',
    birthDate: '1984-02-29',
    sexAtBirth: 'female',
    gender: 'woman',
    medicalRecordNumber: 'MRN-004217',
    bloodType: 'O+',
    primaryCareProvider: 'Dr. Lee, Riverside Family Practice',
    primaryCareProviderId: p.providerId,
    contact: { phone: '+1 555 0100', email: 'ada@example.org', address: '1 Main St, Springfield' },
    status: 'active',
    notes: 'Prefers morning appointments.',
    names: [
      {
        use: 'official',
        text: 'Ada Example',
        family: 'Example',
        given: ['Ada'],
        prefix: ['Dr'],
        suffix: ['PhD'],
        period: { start: '2008', end: '2030-12-31' },
      },
      { use: 'maiden', family: 'Byron', given: ['Ada'], prefix: ['Ms'], suffix: ['BSc'] },
    ],
    addresses: [
      {
        use: 'home',
        type: 'both',
        text: '1 Main St, Springfield',
        line: ['1 Main St'],
        city: 'Springfield',
        district: 'Greene',
        state: 'IL',
        postalCode: '62701',
        country: 'US',
        period: { start: '2015-06-01', end: '2030-12-31' },
      },
    ],
    telecoms: [
      {
        system: 'phone',
        value: '+1 555 0100',
        use: 'mobile',
        rank: 1,
        period: { start: '2019', end: '2030-12-31' },
      },
      { system: 'email', value: 'ada@example.org', use: 'home' },
      { system: 'phone', value: '+1 555 0199', use: 'work', period: { end: '2023' } },
    ],
    identifiers: [
      {
        use: 'official',
        type: {
          text: 'National health number',
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/v2-0203',
              code: 'NH',
              display: 'National Health Plan Identifier',
            },
          ],
        },
        system: 'https://nhs.example/nhs-number',
        value: '943 476 5919',
        period: { start: '2010-01-01', end: '2030-12-31' },
      },
    ],
  }),
} as const satisfies KindDescription<typeof ProfileSchema>;
