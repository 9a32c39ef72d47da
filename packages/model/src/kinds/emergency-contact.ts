// The people to call in an emergency (FHIR RelatedPerson).
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
  search: { name: 3, relationship: 1, phone: 1, email: 1, notes: 1 },
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
  }),
} as const satisfies KindDescription<typeof EmergencyContactSchema>;
