import { exampleRecord, type RecordKind, type RecordOf } from '@hale/model';
import type { RecordInput } from '@hale/client';

/** A valid record input of `kind` (the store assigns id, patientId and timestamps). */
export const input = <K extends RecordKind>(
  kind: K,
  overrides: Partial<RecordOf<K>> = {},
): RecordInput<K> => {
  const full = exampleRecord(kind, overrides) as unknown as Record<string, unknown>;
  const { id: _i, patientId: _p, createdAt: _c, updatedAt: _u, ...rest } = full;
  return rest as unknown as RecordInput<K>;
};
