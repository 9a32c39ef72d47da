// writeDocs' `maxMasterBytes`: the stored versions a batch's conflicts answer are bounded, and a batch
// over the bound commits nothing (the push answer built from it would not fit one frame).
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isoAt, makeDocInput } from './conformance';
import { openSqliteStore, type SqliteStore } from './sqlite-store';
import { isStoreError, type DocWrite, type StreamHead } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-master-budget-');
const stream = 'patient-1/note';
const sized = (id: string, rev: string, bytes: number): DocWrite => ({
  doc: makeDocInput(stream, id, rev, { ct: new Uint8Array(bytes).fill(7), size: bytes }),
  assumedRev: null,
});
const fresh = (id: string): DocWrite => ({ doc: makeDocInput(stream, id, '1-a'), assumedRev: null });
const stale = (id: string): DocWrite => ({ doc: makeDocInput(stream, id, '9-b'), assumedRev: null });

describe('writeDocs maxMasterBytes', () => {
  let store: SqliteStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });
  const open = async (): Promise<SqliteStore> => {
    store = await openSqliteStore({ dataDir: join(newDir(), 'data'), onListenerError: () => {} });
    await store.docs.writeDocs([sized('x', '2-x', 600), sized('y', '2-y', 600)], isoAt(1));
    return store;
  };

  it('a batch whose conflicts answer more than the bound rejects TOO_LARGE and commits nothing', async () => {
    const s = await open();
    const committed: StreamHead[][] = [];
    s.onCommitted((heads) => committed.push(heads));
    const error = await s.docs
      .writeDocs([fresh('a'), stale('x'), fresh('b'), stale('y')], isoAt(2), 1000)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(isStoreError(error, 'TOO_LARGE')).toBe(true);
    expect([await s.docs.getDoc(stream, 'a'), await s.docs.getDoc(stream, 'b')]).toEqual([null, null]);
    expect((await s.docs.readDocs(stream, 0, 10, 1e6)).checkpoint).toBe(2);
    expect(committed).toEqual([]);
  });

  it('within the bound the batch commits as without one, its conflicts answered with their masters', async () => {
    const s = await open();
    const results = await s.docs.writeDocs([fresh('a'), stale('x'), fresh('b'), stale('y')], isoAt(2), 1200);
    expect(results.map((r) => (r.status === 'conflict' ? `conflict ${r.master?.rev}` : r.status))).toEqual([
      'ok',
      'conflict 2-x',
      'ok',
      'conflict 2-y',
    ]);
    expect((await s.docs.getDoc(stream, 'b'))?.rev).toBe('1-a');
  });

  it('the first conflict is answered whatever its size, and a version written earlier in the batch counts', async () => {
    const s = await open();
    const [first] = await s.docs.writeDocs([stale('x')], isoAt(2), 10);
    expect(first).toMatchObject({ status: 'conflict', master: { rev: '2-x' } });
    // The batch's own 500-byte version of `z` is the master its second row meets: 600 + 500 > 1000.
    const error = await s.docs
      .writeDocs([stale('x'), sized('z', '1-z', 500), stale('z')], isoAt(3), 1000)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(isStoreError(error, 'TOO_LARGE')).toBe(true);
    expect(await s.docs.getDoc(stream, 'z')).toBeNull();
  });

  it('a negative bound is refused INVALID', async () => {
    const s = await open();
    const error = await s.docs.writeDocs([fresh('a')], isoAt(2), -1).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isStoreError(error, 'INVALID')).toBe(true);
  });
});
