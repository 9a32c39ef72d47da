import { exampleInput, type RecordKind, type RecordOf } from '@hale/model';
import type { RecordInput } from '@hale/client';

/**
 * A valid record input of `kind` (`exampleInput`): the store assigns id, patientId and timestamps, and the
 * records API the writer fields that `overrides` does not give.
 */
export const input = <K extends RecordKind>(kind: K, overrides: Partial<RecordOf<K>> = {}): RecordInput<K> =>
  exampleInput(kind, overrides) as unknown as RecordInput<K>;
