/*
 * FHIR R4 export of Hale records (docs/data-model.md is the mapping reference).
 *
 * Modules: fhir-types (input, output, FhirExportError) · fhir-mappings (enum → code tables) ·
 * fhir-export-records / fhir-export-notes (resources per record kind) · fhir-bundle (toFhirBundle) ·
 * fhir-shape (validateFhirBundleShape) · fhir-draft, fhir-kinds, fhir-references (shared builders).
 *
 * Invariants:
 * - Pure: the output depends only on the input (no clock, no randomness), so the same input gives the
 *   same bundle byte for byte. Entries are sorted (the export's Patient first, then by fullUrl and
 *   version), so the order of the input records does not matter either.
 * - Every record is validated (`validateRecord`) and must belong to `patientId` (ProviderProfile excepted,
 *   it is a directory entry); a bundle never mixes patients.
 * - Every `reference` in the bundle is a fullUrl of an entry (`urn:hale:{ResourceType}/{id}`), or
 *   `{fullUrl}/_history/{version}` where an entry of that fullUrl has that `meta.versionId`. People and
 *   devices named only by account/device id get a minimal Patient / Practitioner / RelatedPerson / Device
 *   entry so their references resolve; records that point at records, or at versions of records, absent
 *   from the export get a logical reference (`identifier` and a `display`, which names the version where
 *   one is meant; no `reference`).
 * - Hale record ids are kept as `identifier` (system `urn:hale:id`) where the resource has one
 *   (Provenance and AuditEvent have none in R4: there the Hale id is `Resource.id`).
 * - No empty strings, arrays or objects are emitted (FHIR JSON forbids them).
 * - A code typed by a person is labelled with a code system only when it has that system's form (CVX:
 *   1–3 digits; LOINC: digits, dash, a valid check digit); any other code joins the concept's text, with
 *   no coding: a coding claiming the wrong system would be read as the wrong vaccine or test.
 * - Nothing of a value is dropped: a lab value written as text keeps its units (as a Quantity when the
 *   text is a number, with its comparator; else in Observation.note).
 * - What offline devices legitimately leave behind never fails the export, and nothing is dropped:
 *   several Profiles (each device created one before the first sync) become one Patient that all
 *   references name plus a Patient per other Profile, linked `seealso`; NoteVersions sharing a number
 *   (concurrent amendments) keep the number for one and export the others as Compositions of their own
 *   id, linked with the `concurrent-version` extension. Which one keeps the place depends on the records
 *   only (`preferred`: signed first, then latest `updatedAt`, then greater id).
 * - No side of an unsettled conflict is dropped or passed off as settled: a record given with
 *   `conflict` exports each other side beside it (the resources that differ from the record's, under
 *   ids with `-conflict-{n}`; a deletion as a Provenance of a deletion not applied), the record's current
 *   main resource and every side's resource tagged HALE_CONFLICT_TAG and linked both ways
 *   (`conflicting-version`). A record given without `conflict` exports exactly as before.
 *
 * Failure modes: throws FhirExportError with code INVALID_INPUT (bad patientId, generatedAt, signature,
 * a conflict side naming another record or a malformed deletion), INVALID_RECORD (a record or conflict
 * side fails its schema; `issues` says why), PATIENT_MISMATCH (a record or side of another patient) or
 * DUPLICATE_RESOURCE (the same record listed twice, or records whose ids would still export
 * to one resource version, e.g. two ProviderProfiles of one account: input sync does not produce for a
 * patient's own records).
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
