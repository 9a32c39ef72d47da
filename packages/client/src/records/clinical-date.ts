/**
 * The date a record is about (its clinical date), for sorting lists after opening: record content is
 * sealed at rest, so the store sorts by time of writing only and this sort runs in memory.
 *
 * Invariants:
 * - The fields are each kind's description's `clinicalDate` (@hale/model), first set wins; a kind with
 *   none, or a record with none set, sorts by the time of writing (`updatedAt`).
 * - Dates are ISO text, partial ones (`2019`, `2019-05`) included, and compare as text: a partial date
 *   sorts before the full dates it covers.
 */
import { clinicalDateFieldsOf, isRecordKind } from '@hale/model';

/**
 * The date a record is about (e.g. when a test was taken), from its kind's clinical date fields; `updatedAt`
 * when it has none.
 */
export function clinicalDateOf(kind: string, record: unknown, updatedAt: string): string {
  if (typeof record === 'object' && record !== null) {
    for (const field of isRecordKind(kind) ? clinicalDateFieldsOf(kind) : []) {
      const value = (record as Record<string, unknown>)[field];
      if (typeof value === 'string' && value !== '') return value;
    }
  }
  return updatedAt;
}
