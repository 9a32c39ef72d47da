// The people to call in an emergency (FHIR RelatedPerson): a birth date and the time the person is the
// patient's contact (`period`) keep a year or a month as the source gives it.
import type { KindDescription } from '../kind-description';
import { exportEmergencyContact } from '../fhir-export-records';
import { mapRelatedPerson } from '../fhir-import-map';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { EmergencyContactSchema } from '../record-schemas';

export const EMERGENCY_CONTACT = {
  slug: 'contacts',
  schema: EmergencyContactSchema,
  streamType: 'emergency-contact',
  authorship: 'shared',
  fhir: {
    resource: 'RelatedPerson',
    export: exportEmergencyContact,
    import: [{ resourceType: 'RelatedPerson', shape: IMPORT_SCHEMAS.RelatedPerson, map: mapRelatedPerson }],
  },
  clinicalDate: [],
  search: {
    name: 3,
    relationship: 1,
    phone: 1,
    email: 1,
    notes: 1,
    'names.family': 2,
    'names.given': 2,
    'identifiers.value': 1,
    'telecoms.value': 1,
  },
  screen: {
    section: 'chart',
    order: 20,
    icon: 'phone',
    title: 'name',
    summary: ['relationship', 'phone'],
    versioned: false,
    takesReason: false,
    form: [
      { name: 'name', type: 'text', required: true },
      { name: 'relationship', type: 'text', required: true },
      { name: 'phone', type: 'text', required: true },
      { name: 'email', type: 'text' },
      { name: 'birthDate', type: 'partialDate' },
      { name: 'period.start', type: 'partialDate' },
      { name: 'period.end', type: 'partialDate' },
      { name: 'notes', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    name: 'Grace Example',
    relationship: 'sister',
    phone: '+1 555 0101',
    email: 'grace@example.org',
    notes: 'Call after 6 pm.',
    birthDate: '1963',
    period: { start: '1975', end: '2030-12-31' },
    names: [
      {
        use: 'usual',
        text: 'Grace Example',
        family: 'Example',
        given: ['Grace'],
        prefix: ['Ms'],
        suffix: ['Jr'],
        period: { start: '1990', end: '2030-12-31' },
      },
    ],
    addresses: [
      {
        use: 'home',
        type: 'physical',
        text: '4 Elm St, Springfield',
        line: ['4 Elm St'],
        city: 'Springfield',
        district: 'Greene',
        state: 'IL',
        postalCode: '62702',
        country: 'US',
        period: { start: '2020-01', end: '2030-12-31' },
      },
    ],
    telecoms: [
      {
        system: 'phone',
        value: '+1 555 0101',
        use: 'mobile',
        rank: 1,
        period: { start: '2021', end: '2030-12-31' },
      },
      { system: 'email', value: 'grace@example.org' },
    ],
    identifiers: [
      {
        use: 'usual',
        type: {
          text: 'Contact number',
          coding: [{ system: 'https://riverside.example/id-types', code: 'C', display: 'Contact' }],
        },
        system: 'https://riverside.example/contacts',
        value: 'C-77',
        period: { start: '2021-03-01', end: '2030-12-31' },
      },
    ],
  }),
} as const satisfies KindDescription<typeof EmergencyContactSchema>;
