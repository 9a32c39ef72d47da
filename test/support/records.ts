import { exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import type { RecordInput } from '@hale/client';

/**
 * Fields of the examples that name their made-up people (a provenance by the example provider, an
 * editor, a sender…) or a history they wrote: the records API fills them for the account writing.
 */
const WRITER_FIELDS = [
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
];

/**
 * A valid record input of `kind`: the store assigns id, patientId and timestamps, and the records API
 * the WRITER_FIELDS that `overrides` does not give.
 */
export const input = <K extends RecordKind>(
  kind: K,
  overrides: Partial<RecordOf<K>> = {},
): RecordInput<K> => {
  const full = exampleRecord(kind, overrides) as unknown as Record<string, unknown>;
  const { id: _i, patientId: _p, createdAt: _c, updatedAt: _u, ...rest } = full;
  for (const field of WRITER_FIELDS) if (!(field in overrides)) delete rest[field];
  return rest as unknown as RecordInput<K>;
};
