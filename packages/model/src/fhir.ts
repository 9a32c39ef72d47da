/*
 * FHIR R4 export of Hale records (docs/data-model.md is the mapping reference).
 *
 * Modules: fhir-types (input, output, FhirExportError) · fhir-mappings (enum → code tables) ·
 * fhir-export-records / fhir-export-notes (resources per record kind) · fhir-bundle (toFhirBundle) ·
 * fhir-shape (validateFhirBundleShape) · fhir-draft, fhir-kinds, fhir-references (shared builders).
 *
 * Invariants:
 * - Pure and deterministic: same input, same bundle byte for byte; entries sorted (Patient first).
 * - Every record is validated and belongs to `patientId` (ProviderProfile excepted): one patient a bundle.
 * - Every `reference` is an entry's fullUrl (`urn:hale:{Type}/{id}`), its `/_history/{version}`, or `#id`.
 * - Accounts and devices get minimal Patient/Practitioner/RelatedPerson/Device entries so references resolve.
 * - A reference to a record absent from the export is logical (`identifier`, `display`; no `reference`).
 * - Hale ids are kept as `identifier` (`urn:hale:id`); for Provenance and AuditEvent as `Resource.id`.
 * - No empty strings, arrays or objects are emitted (FHIR JSON forbids them).
 * - A typed code gets a system (CVX, LOINC) only in that system's form; else it joins the concept's text.
 * - Nothing of a value is dropped: a text lab value keeps its units (Quantity if numeric, else a note).
 * - Offline leftovers never fail the export: extra Profiles become Patients linked `seealso`.
 * - NoteVersions sharing a number: one keeps it (`preferred`), the others export linked `concurrent-version`.
 * - No conflict side is dropped or passed off as settled: sides export beside the record, HALE_CONFLICT_TAG.
 *
 * Failure modes: FhirExportError with INVALID_INPUT (bad patientId, generatedAt, signature or conflict
 * side), INVALID_RECORD (a record or side fails its schema; `issues`), PATIENT_MISMATCH (another
 * patient's) or DUPLICATE_RESOURCE (records that would export to one resource version).
 */
export {
  HALE_FHIR_BASE,
  HALE_EXTENSION_BASE,
  HALE_CODE_SYSTEM_BASE,
  HALE_ID_SYSTEM,
  HALE_ACCOUNT_SYSTEM,
  HALE_DEVICE_SYSTEM,
  HALE_THREAD_SYSTEM,
  HALE_STREAM_SYSTEM,
  HALE_CONFLICT_TAG,
  fhirId,
  fhirFullUrl,
  isFhirBase64Binary,
} from './fhir-draft';
export * from './fhir-types';
export { toFhirBundle } from './fhir-bundle';
export { validateFhirBundleShape, type FhirShapeIssue, type FhirShapeInvalid } from './fhir-shape';
