/*
 * FHIR export: public input/output types and the typed error.
 * The export's invariants and failure modes: fhir.ts.
 */
import type { ValidationIssue } from './errors';
import type { RecordKind, RecordOf } from './registry';

// ------------------------------------------------------------------------------------------ public types

export type FhirJson = string | number | boolean | readonly FhirJson[] | FhirJsonObject;
export interface FhirJsonObject {
  readonly [element: string]: FhirJson;
}

export interface FhirResource extends FhirJsonObject {
  readonly resourceType: string;
  readonly id: string;
}

export interface FhirBundleEntry extends FhirJsonObject {
  readonly fullUrl: string;
  readonly resource: FhirResource;
}

export interface FhirBundle extends FhirJsonObject {
  readonly resourceType: 'Bundle';
  readonly type: 'collection';
  readonly timestamp: string;
  readonly entry: readonly FhirBundleEntry[];
}

/**
 * One record to export. `signature` is the record's author signature (standard base64) as verified by
 * the caller; it becomes `Provenance.signature.data` where the export has a Provenance for the record's
 * current version, else the Hale extension `author-signature` on the record's resource.
 */
export type FhirExportItem = {
  [K in RecordKind]: {
    readonly kind: K;
    readonly record: RecordOf<K>;
    readonly signature?: string;
    /**
     * Present while the record is in an unsettled conflict (concurrent edits nobody has decided between
     * yet): `record` is the version the device shows, `sides` the others it keeps. The record is marked
     * disputed even when no side is given (e.g. the caller could not read one).
     */
    readonly conflict?: FhirExportConflict<K>;
  };
}[RecordKind];

/** The other sides of a record's unsettled conflict (see FhirExportItem.conflict). */
export interface FhirExportConflict<K extends RecordKind = RecordKind> {
  readonly sides: readonly FhirConflictSide<K>[];
}

/**
 * One other side: another version of the record (same kind and id), or a deletion of it made on another
 * device while this version was edited (`by`: the account that deleted it; `at`: when).
 */
export type FhirConflictSide<K extends RecordKind = RecordKind> =
  { readonly record: RecordOf<K> } | { readonly deletion: { readonly by: string; readonly at: string } };

export interface FhirExportInput {
  /** The patient account whose records these are. */
  readonly patientId: string;
  readonly records: readonly FhirExportItem[];
  /** `Bundle.timestamp`: an ISO-8601 date-time with zone, supplied by the caller to keep this pure. */
  readonly generatedAt: string;
}

export type FhirExportErrorCode =
  'INVALID_INPUT' | 'INVALID_RECORD' | 'PATIENT_MISMATCH' | 'DUPLICATE_RESOURCE';

export interface FhirExportErrorDetail {
  readonly code: FhirExportErrorCode;
  readonly message: string;
  readonly kind?: RecordKind;
  readonly recordId?: string;
  readonly issues?: readonly ValidationIssue[];
}

export class FhirExportError extends Error {
  readonly code: FhirExportErrorCode;
  readonly detail: FhirExportErrorDetail;

  constructor(detail: FhirExportErrorDetail) {
    super(detail.message);
    this.name = 'FhirExportError';
    this.code = detail.code;
    this.detail = detail;
  }
}
