// A grant of the patient's streams to another account (FHIR Consent); kept by the consent API, not a stream.
import type { KindDescription } from '../kind-description';
import { exportConsent } from '../fhir-export-notes';
import { ConsentSchema } from '../record-schemas';

export const CONSENT = {
  slug: 'consents',
  schema: ConsentSchema,
  streamType: null,
  authorship: 'author',
  fhir: {
    resource: 'Consent',
    export: (x, r, signature, context) =>
      exportConsent(x, r, signature, (type) => context.streamResources(type)),
    // Not imported: sharing is granted in Hale.
    import: [],
  },
  clinicalDate: [],
  search: {},
  screen: null,
  example: (p) => ({
    ...p.base(),
    granteeId: p.providerId,
    grantedBy: p.caregiverId,
    scope: [
      { type: 'allergy', access: 'read' },
      { type: 'lab-result', access: 'write' },
    ],
    startsAt: p.created,
    expiresAt: '2024-06-01T09:30:00.000Z',
    purpose: 'Hypertension care',
    status: 'revoked',
    revokedAt: '2024-05-20T10:00:00.000Z',
  }),
} as const satisfies KindDescription<typeof ConsentSchema>;
