// A clinician's directory entry (FHIR Practitioner and PractitionerRole): not a patient record.
import type { KindDescription } from '../kind-description';
import { exportProviderProfile } from '../fhir-export-notes';
import { ProviderProfileSchema } from '../record-schemas';

export const PROVIDER_PROFILE = {
  slug: 'clinician-profiles',
  schema: ProviderProfileSchema,
  streamType: null,
  authorship: 'author',
  // Not imported: a clinician is kept by name on the records that mention them.
  fhir: {
    resource: 'Practitioner',
    alsoExports: ['PractitionerRole'],
    export: exportProviderProfile,
    import: [],
  },
  clinicalDate: [],
  search: {},
  screen: null,
  example: (p) => ({
    id: p.newId(),
    accountId: p.providerId,
    displayName: 'Dr. Lin Lee',
    specialty: 'Family medicine',
    clinic: 'Riverside Family Practice',
    identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' },
    contact: { phone: '+1 555 0199', email: 'lee@riverside.example', address: '5 River Rd, Springfield' },
    createdAt: p.created,
    updatedAt: p.updated,
  }),
} as const satisfies KindDescription<typeof ProviderProfileSchema>;
