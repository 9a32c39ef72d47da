/*
 * Conformance of `SyncStore.heads` (types.ts), declared inside `runStoreConformance`: rows read with the
 * stream's seq; a statement kept only at the stream's current seq and never below a kept one; pages by id
 * that never mix statements.
 */
import { describe, expect, it } from 'vitest';
import type { DocWrite, SyncStore } from './types';

const REV1 = '1-0123456789abcdef01234567';
const REV2 = '2-89abcdef0123456789abcdef';
const STREAM = 'PatientAccount_0123456/allergy';
const ct = new TextEncoder().encode('sealed');
const write = (id: string, rev: string, assumedRev: string | null, deleted = false): DocWrite => ({
  doc: { stream: STREAM, id, rev, deleted, epoch: 0, ct, size: ct.byteLength, author: 'device-a' },
  assumedRev,
});
const signed = (seq: number) => ({ head: { v: 1, stream: STREAM, seq }, sig: `sig-${seq}` });

export const describeHeadsConformance = (store: () => SyncStore, at: string): void => {
  describe('heads', () => {
    it('reads the rows of a stream with its current seq, by id', async () => {
      expect(await store().heads.rows(STREAM)).toEqual({ seq: 0, rows: [] });
      await store().docs.writeDocs([write('B', REV1, null), write('A', REV1, null)], at);
      await store().docs.writeDocs([write('A', REV2, REV1, true)], at);
      expect(await store().heads.rows(STREAM)).toEqual({
        seq: 3,
        rows: [
          { id: 'A', rev: REV2, deleted: true },
          { id: 'B', rev: REV1, deleted: false },
        ],
      });
    });

    it('keeps a statement only at the current seq, and never below a kept one', async () => {
      await store().docs.writeDocs([write('A', REV1, null)], at);
      const rows = [{ id: 'A', rev: REV1, deleted: false }];
      expect(await store().heads.keep({ stream: STREAM, seq: 0, signed: signed(0) }, rows)).toEqual({
        status: 'moved',
        seq: 1,
      });
      expect(await store().heads.get(STREAM, undefined, 10)).toBeNull();
      expect(await store().heads.keep({ stream: STREAM, seq: 1, signed: signed(1) }, rows)).toEqual({
        status: 'ok',
      });
      await store().docs.writeDocs([write('B', REV1, null)], at);
      const two = [...rows, { id: 'B', rev: REV1, deleted: false }];
      expect(await store().heads.keep({ stream: STREAM, seq: 2, signed: signed(2) }, two)).toEqual({
        status: 'ok',
      });
      expect(await store().heads.get(STREAM, undefined, 10)).toEqual({
        head: { stream: STREAM, seq: 2, signed: signed(2) },
        rows: two,
      });
    });

    it('pages the rows by id, strictly after `after`', async () => {
      await store().docs.writeDocs(
        ['A', 'B', 'C'].map((id) => write(id, REV1, null)),
        at,
      );
      const { rows } = await store().heads.rows(STREAM);
      await store().heads.keep({ stream: STREAM, seq: 3, signed: signed(3) }, rows);
      expect((await store().heads.get(STREAM, undefined, 2))?.rows.map((r) => r.id)).toEqual(['A', 'B']);
      expect((await store().heads.get(STREAM, 'B', 2))?.rows.map((r) => r.id)).toEqual(['C']);
      expect((await store().heads.get(STREAM, 'C', 2))?.rows).toEqual([]);
    });
  });
};
