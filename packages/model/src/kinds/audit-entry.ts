// One entry of the patient's audit trail (FHIR AuditEvent), written by the audit log only, never searched.
import type { KindDescription } from '../kind-description';
import { exportAuditEntry } from '../fhir-export-notes';
import { AuditEntrySchema } from '../record-schemas';

export const AUDIT_ENTRY = {
  slug: 'audit',
  schema: AuditEntrySchema,
  streamType: 'audit',
  authorship: 'author',
  // Not imported: an access log belongs to the account it was recorded for.
  fhir: { resource: 'AuditEvent', export: exportAuditEntry, import: [] },
  clinicalDate: [],
  search: {},
  screen: null,
  example: (p) => ({
    ...p.base(),
    actorId: p.providerId,
    actorDeviceId: p.deviceId,
    action: 'record.view',
    entityType: 'LabResult',
    entityId: p.newId(),
    streamType: 'lab-result',
    summary: 'Viewed glucose result',
    metadata: { screen: 'labs', count: 1, exported: false, note: null },
    at: p.updated,
  }),
} as const satisfies KindDescription<typeof AuditEntrySchema>;
