/*
 * FHIR export: whom a record names (accounts only providers fill, caregivers) and the resource holding a
 * record's Hale id, which other resources point at. The export's invariants and failure modes: fhir.ts.
 */
import { fhirId } from './fhir-draft';
import type { FhirExportItem } from './fhir-types';
import { KIND_DESCRIPTIONS } from './kind-descriptions';
import { documentResourceOf, medicationResourceOf } from './fhir-export-records';

// Accounts in fields only providers fill; anything else that is not the patient defaults to Practitioner
// too, except accounts seen only as caregivers (Consent.grantedBy, a plan acknowledged by someone else).
export const providerAccounts = (item: FhirExportItem): (string | undefined)[] => {
  switch (item.kind) {
    case 'Profile':
      return [item.record.primaryCareProviderId];
    case 'Immunization':
      return [item.record.providerId];
    case 'Medication':
      return [item.record.prescriberId];
    case 'LabResult':
      return [
        item.record.orderedBy,
        item.record.provenance.by,
        ...item.record.versions.map((v) => v.provenance.by),
      ];
    case 'TreatmentPlan':
      return [
        item.record.authorId,
        item.record.provenance.by,
        ...item.record.versions.map((v) => v.provenance.by),
      ];
    case 'Appointment':
      return [item.record.providerId];
    case 'Encounter':
      return [item.record.clinicianId];
    case 'MedicalNote':
      return [item.record.authorId];
    case 'NoteVersion':
      return [item.record.editorId];
    case 'NoteSignature':
      return [item.record.signerId];
    case 'Consent':
      return [item.record.granteeId];
    case 'ProviderProfile':
      return [item.record.accountId];
    default:
      return [];
  }
};

export const caregiverAccounts = (item: FhirExportItem): (string | undefined)[] => {
  switch (item.kind) {
    case 'Consent':
      return [item.record.grantedBy];
    case 'TreatmentPlan':
      return [item.record.acknowledgement?.by];
    default:
      return [];
  }
};

/** The resource holding a record's Hale id, which other resources point at. */
export const primaryTarget = (item: FhirExportItem): { type: string; id: string; version?: number } => {
  switch (item.kind) {
    case 'Profile':
      return { type: 'Patient', id: fhirId(item.record.patientId) };
    case 'ProviderProfile':
      return { type: 'PractitionerRole', id: item.record.id };
    case 'NoteVersion':
      return { type: 'Composition', id: item.record.noteId, version: item.record.versionNumber };
    case 'NoteSignature':
      return { type: item.record.status === 'signed' ? 'Provenance' : 'Task', id: item.record.id };
    case 'Medication':
      return { type: medicationResourceOf(item.record), id: item.record.id };
    case 'HealthDocument':
      return { type: documentResourceOf(item.record), id: item.record.id };
    default:
      return { type: KIND_DESCRIPTIONS[item.kind].fhir.resource, id: item.record.id };
  }
};
