import { EXAMPLE_PARTS } from './example-parts';
import { KIND_DESCRIPTIONS } from './kind-descriptions';
import { assertRecordKind, type RecordKind, type RecordOf } from './registry';

export {
  EXAMPLE_CAREGIVER_ID,
  EXAMPLE_DEVICE_ID,
  EXAMPLE_PATIENT_ID,
  EXAMPLE_PROVIDER_ID,
} from './example-parts';

/**
 * A valid record of `kind` with every optional field filled and a fresh id; `overrides` replace fields
 * as given (the result is not re-validated, so tests can build invalid records on purpose).
 */
export const exampleRecord = <K extends RecordKind>(
  kind: K,
  overrides?: Partial<RecordOf<K>>,
): RecordOf<K> => {
  assertRecordKind(kind);
  // Each description's example fills every optional field, so the examples exercise the whole schema.
  const made = KIND_DESCRIPTIONS[kind].example(EXAMPLE_PARTS) as RecordOf<K>;
  return { ...made, ...overrides };
};

/**
 * Fields of the examples that name their made-up people (a provenance by the example provider, an
 * editor, a sender…) or a history they wrote: a records API fills them for the session writing.
 */
const EXAMPLE_WRITER_FIELDS = [
  'provenance',
  'version',
  'versions',
  'editorId',
  'authorId',
  'senderId',
  'signerId',
  'requestedBy',
  'uploadedBy',
  'acknowledgement',
] as const;

/**
 * An example record of `kind` as a records API's `add` takes it: no id, patient or timestamps, and none
 * of the fields naming a writer unless `overrides` gives them; no `origin` (a FHIR import sets it) either.
 */
export const exampleInput = <K extends RecordKind>(
  kind: K,
  overrides: Partial<RecordOf<K>> = {},
): Record<string, unknown> => {
  const full: Record<string, unknown> = { ...exampleRecord(kind, overrides) };
  const { id: _i, patientId: _p, createdAt: _c, updatedAt: _u, ...rest } = full;
  for (const field of [...EXAMPLE_WRITER_FIELDS, 'origin']) if (!(field in overrides)) delete rest[field];
  return rest;
};
