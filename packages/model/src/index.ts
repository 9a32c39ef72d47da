export * from './stream-types';
export * from './formats';
export * from './instants';
export * from './errors';
export * from './ids';
export * from './common-schemas';
export * from './record-schemas';
export * from './registry';
export * from './kind-description';
export * from './kind-descriptions';
export * from './validate';
export * from './transitions';
export * from './write-rules';
export * from './examples';
export * from './fhir';
export * from './fhir-references';
export * from './model-version';
export * from './fhir-import';
export { recordContentDigest } from './fhir-import-identity';
export {
  FHIR_IMPORT_FAILURES,
  IMPORTABLE_BUNDLE_TYPES,
  MAX_IMPORT_BYTES,
  MAX_IMPORT_DEPTH,
  MAX_IMPORT_RESOURCES,
  readFhirInput,
  type FhirImportFailure,
  type FhirImportFailureReason,
  type FhirImportIssue,
  type FhirInput,
  type FhirInputEntry,
} from './fhir-import-input';
export type { PendingFile } from './fhir-import-map';
export { bloodTypeOf } from './fhir-import-map';
export * from './fhir-ips';
export * from './authorship';
export * from './allergy-reactions';
export * from './concepts';
export * from './person-parts';
