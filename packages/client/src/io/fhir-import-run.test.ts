// Import chunks: each at most IMPORT_CHUNK records and IMPORT_CHUNK_CHARS of JSON, in order, none empty.
import { describe, expect, it } from 'vitest';
import type { WriteOp } from '../records/records';
import { IMPORT_CHUNK, importChunks } from './fhir-import-run';

const add = (chars: number): WriteOp =>
  ({ op: 'add', kind: 'Allergy', input: { substance: 'x'.repeat(chars) } }) as unknown as WriteOp;
const sizes = (chunks: WriteOp[][]): number[] => chunks.map((c) => c.length);

describe('importChunks', () => {
  it('cuts by count: IMPORT_CHUNK records a chunk, the rest last', () => {
    const adds = Array.from({ length: IMPORT_CHUNK * 2 + 3 }, () => add(10));
    const chunks = importChunks(adds);
    expect(sizes(chunks)).toEqual([IMPORT_CHUNK, IMPORT_CHUNK, 3]);
    expect(chunks.flat()).toEqual(adds);
  });

  it('cuts by size, so a chunk fits one push frame; a record larger than the budget goes alone', () => {
    const adds = [add(400), add(400), add(400), add(2_000), add(10)];
    expect(sizes(importChunks(adds, 100, 1_000))).toEqual([2, 1, 1, 1]);
    expect(importChunks([], 100, 1_000)).toEqual([]);
  });
});
