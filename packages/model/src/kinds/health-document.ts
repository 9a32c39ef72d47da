// A file the patient keeps (report, letter, scan, photo), with its earlier versions.
import type { KindDescription } from '../kind-description';
import { exportHealthDocument } from '../fhir-export-records';
import { mapDocumentReference } from '../fhir-import-map-results';
import { IMPORT_SCHEMAS } from '../fhir-import-schemas';
import { HealthDocumentSchema } from '../record-schemas';

/** The document types the app offers (the schema takes any short text). */
export const DOCUMENT_TYPES = [
  'lab-report',
  'imaging',
  'prescription',
  'discharge-summary',
  'vaccination-card',
  'insurance',
  'letter',
  'other',
] as const;

export const HEALTH_DOCUMENT = {
  slug: 'documents',
  schema: HealthDocumentSchema,
  streamType: 'document',
  authorship: 'shared',
  fhir: {
    resource: 'DocumentReference',
    // A document read from a DiagnosticReport exports as one.
    alsoExports: ['DiagnosticReport'],
    export: (x, r, signature, context) => exportHealthDocument(x, r, signature, context.provenBy(r.id)),
    import: [
      {
        resourceType: 'DocumentReference',
        shape: IMPORT_SCHEMAS.DocumentReference,
        map: mapDocumentReference,
      },
    ],
  },
  clinicalDate: ['uploadedAt'],
  search: { title: 3, documentType: 1.2, description: 1, tags: 1.5, 'file.fileName': 1.2 },
  screen: {
    section: 'chart',
    order: 80,
    icon: 'file',
    title: 'title',
    summary: ['documentType', 'uploadedAt'],
    versioned: true,
    takesReason: false,
    uploaded: true,
    form: [
      { name: 'title', type: 'text', required: true },
      {
        name: 'documentType',
        type: 'select',
        options: DOCUMENT_TYPES,
        enumName: 'documentType',
        required: true,
        initial: 'other',
      },
      { name: 'serviceDate', type: 'partialDate' },
      { name: 'description', type: 'textarea' },
    ],
  },
  example: (p) => ({
    ...p.base(),
    file: p.file('discharge-summary-v2.pdf', 'application/pdf', 48_213),
    documentType: 'discharge-summary',
    title: 'Discharge summary, Riverside Hospital',
    description: 'Corrected medication list on page 2.',
    tags: ['hospital', '2024'],
    uploadedAt: p.updated,
    uploadedBy: p.patientId,
    serviceDate: '2024-05',
    version: 2,
    versions: [
      {
        version: 1,
        file: p.file('discharge-summary.pdf', 'application/pdf', 47_990),
        uploadedAt: p.created,
        uploadedBy: p.patientId,
        changeNote: 'First scan.',
      },
    ],
  }),
} as const satisfies KindDescription<typeof HealthDocumentSchema>;
