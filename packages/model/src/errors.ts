import type { RecordKind } from './registry';

export type Result<T, E> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

/** One reason a value does not conform; `field` is a dotted path such as `versions[0].provenance.by`. */
export interface ValidationIssue {
  readonly field: string;
  readonly reason: string;
}

export interface ValidationFailed {
  readonly code: 'VALIDATION_FAILED';
  readonly kind: RecordKind;
  /** e.g. `Allergy is invalid: severity: must be one of mild, moderate, severe; substance: is required`. */
  readonly message: string;
  readonly issues: readonly ValidationIssue[];
}

export interface UnknownKind {
  readonly code: 'UNKNOWN_KIND';
  readonly message: string;
  readonly kind: string;
}

export interface InvalidId {
  readonly code: 'INVALID_ID';
  readonly message: string;
  readonly value: string;
}

export type ModelErrorDetail = ValidationFailed | UnknownKind | InvalidId;

/** Thrown by the asserting helpers; `detail` is the same plain object the Result-returning variants return. */
export class ModelError extends Error {
  readonly code: ModelErrorDetail['code'];
  readonly detail: ModelErrorDetail;

  constructor(detail: ModelErrorDetail) {
    super(detail.message);
    this.name = 'ModelError';
    this.code = detail.code;
    this.detail = detail;
  }
}
