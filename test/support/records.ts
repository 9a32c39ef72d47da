import { exampleInput, type RecordKind, type RecordOf } from '@hale/model';
import { expect } from 'vitest';
import { RecordError, type RecordInput } from '@hale/client/advanced';

/**
 * A valid record input of `kind` (`exampleInput`): the store assigns id, patientId and timestamps, and the
 * records API the writer fields that `overrides` does not give.
 */
export const input = <K extends RecordKind>(kind: K, overrides: Partial<RecordOf<K>> = {}): RecordInput<K> =>
  exampleInput(kind, overrides) as unknown as RecordInput<K>;

/** What `promise` was refused with, which must be a RecordError (a test fails if it resolves). */
export const recordRefusal = (promise: Promise<unknown>): Promise<RecordError> =>
  promise.then(
    () => {
      throw new Error('expected a refusal');
    },
    (error: unknown) => {
      expect(error).toBeInstanceOf(RecordError);
      return error as RecordError;
    },
  );
