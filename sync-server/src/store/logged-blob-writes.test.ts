// The SQLite store's writes that commit with an account of them: a blob chunk or deletion with the access
// entries it carries (types.ts AccessEntries), and a writeDocs row the writer counted out
// (`expectRefused`). Both commit in one transaction with what they carry, or nothing does.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditWrite, isoAt, makeDocInput } from './conformance';
import { openSqliteStore, type SqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';
import { isStoreError, type AccessGuard, type BlobManifest, type StreamHead } from './types';

const newDir = useTempDirs('hale-logged-');

let store: SqliteStore;
let committed: StreamHead[][];
beforeEach(async () => {
  store = await openSqliteStore({ dataDir: join(newDir(), 'data'), onListenerError: () => {} });
  committed = [];
  store.onCommitted((heads) => committed.push(heads));
});
afterEach(async () => {
  await store.close();
});

const manifest: BlobManifest = {
  blobId: 'blob-1',
  stream: 'p/document',
  size: 10,
  chunkSize: 4,
  chunkCount: 3,
  digests: ['d0', 'd1', 'd2'],
  createdBy: 'dev-1',
  createdAt: isoAt(0),
};
const chunk = (fill: number): Uint8Array => new Uint8Array(4).fill(fill);
const AUDIT = 'p/audit';
const entries = (...seqs: number[]) => ({
  rows: seqs.map((n) => auditWrite(AUDIT, `e${n}`, 'server', n)),
  now: isoAt(5),
});
const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isStoreError(error) ? error.code : String(error);
  }
};
const auditIds = async (): Promise<string[]> =>
  (await store.docs.readDocs(AUDIT, 0, 100, 1 << 20)).docs.map((d) => d.id);
const refusing: AccessGuard = {
  granteeId: 'g',
  patientIds: ['p'],
  at: isoAt(5),
  check: () => {
    throw new Error('access ended');
  },
};

describe('blob writes with access entries', () => {
  beforeEach(async () => {
    await store.blobs.putManifest(manifest);
  });

  it('a chunk and its entries commit together, and the entries are announced to commit listeners', async () => {
    await store.blobs.putChunk('blob-1', 0, chunk(1), undefined, entries(1));
    expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0]);
    expect(await auditIds()).toEqual(['e1']);
    expect(committed).toEqual([[{ stream: AUDIT, head: 1 }]]);
    // The same chunk again (a retry) is logged again: it is the upload the entry claims.
    await store.blobs.putChunk('blob-1', 0, chunk(1), undefined, entries(2));
    expect(await auditIds()).toEqual(['e1', 'e2']);
  });

  it('a chunk the store refuses writes none of its entries', async () => {
    await store.blobs.putChunk('blob-1', 0, chunk(1));
    expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(2), undefined, entries(1)))).toBe(
      'ALREADY_EXISTS',
    );
    expect(await codeOf(store.blobs.putChunk('blob-2', 0, chunk(2), undefined, entries(1)))).toBe(
      'NOT_FOUND',
    );
    expect(await codeOf(store.blobs.putChunk('blob-1', 1, chunk(2), refusing, entries(1)))).toBe(
      'Error: access ended',
    );
    expect(await auditIds()).toEqual([]);
    expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0]);
  });

  it('an entry the store does not write (a chain position taken) stores no chunk: CONFLICT', async () => {
    await store.docs.writeDocs([auditWrite(AUDIT, 'held', 'server', 1)], isoAt(1));
    committed = [];
    expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, entries(1)))).toBe('CONFLICT');
    // An id stored already (append-only) is refused too.
    expect(
      await codeOf(
        store.blobs.putChunk('blob-1', 0, chunk(1), undefined, {
          rows: [auditWrite(AUDIT, 'held', 'server', 2)],
          now: isoAt(5),
        }),
      ),
    ).toBe('CONFLICT');
    expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
    expect(await auditIds()).toEqual(['held']);
    expect(committed).toEqual([]);
  });

  it('a deletion and its entries commit together, or neither', async () => {
    await store.blobs.putChunk('blob-1', 0, chunk(1));
    await store.docs.writeDocs([auditWrite(AUDIT, 'held', 'server', 1)], isoAt(1));
    const deletion = { deletedBy: 'dev-9', deletedAt: isoAt(6) };
    expect(await codeOf(store.blobs.delete('blob-1', deletion, undefined, entries(1)))).toBe('CONFLICT');
    expect(await codeOf(store.blobs.delete('blob-1', deletion, refusing, entries(2)))).toBe(
      'Error: access ended',
    );
    expect(await store.blobs.getManifest('blob-1')).not.toBeNull();
    expect(await store.blobs.getTombstone('blob-1')).toBeNull();
    expect(await auditIds()).toEqual(['held']);

    committed = [];
    const tombstone = await store.blobs.delete('blob-1', deletion, undefined, entries(2));
    expect(tombstone).toEqual({ blobId: 'blob-1', stream: manifest.stream, ...deletion });
    expect(await store.blobs.getManifest('blob-1')).toBeNull();
    expect(await auditIds()).toEqual(['held', 'e2']);
    expect(committed).toEqual([[{ stream: AUDIT, head: 2 }]]);
    // Deleted already: nothing more is logged.
    expect(await codeOf(store.blobs.delete('blob-1', deletion, undefined, entries(3)))).toBe('NOT_FOUND');
    expect(await auditIds()).toEqual(['held', 'e2']);
  });

  it('entries that break the contract are refused before anything is written: INVALID', async () => {
    const bad = {
      rows: [{ doc: { ...makeDocInput(AUDIT, 'x', '1-x'), id: '' }, assumedRev: null }],
      now: isoAt(5),
    };
    expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, bad))).toBe('INVALID');
    expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, { rows: [], now: '' }))).toBe(
      'INVALID',
    );
    expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
  });
});

describe('writeDocs rows marked expectRefused', () => {
  it('refused as expected: the batch is written and answered as without the mark', async () => {
    await store.docs.writeDocs([{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }], isoAt(1));
    const results = await store.docs.writeDocs(
      [
        { doc: makeDocInput('p/allergy', 'a', '2-b'), assumedRev: '1-x', expectRefused: true },
        { doc: makeDocInput('p/allergy', 'c', '1-c'), assumedRev: null },
      ],
      isoAt(2),
    );
    expect(results.map((r) => r.status)).toEqual(['conflict', 'ok']);
  });

  it('one that would be written rejects the batch CONFLICT and writes nothing of it', async () => {
    await store.docs.writeDocs([{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }], isoAt(1));
    committed = [];
    const batch = [
      { doc: makeDocInput('p/allergy', 'c', '1-c'), assumedRev: null },
      { doc: makeDocInput('p/allergy', 'a', '2-a'), assumedRev: '1-a', expectRefused: true },
    ];
    expect(await codeOf(store.docs.writeDocs(batch, isoAt(2)))).toBe('CONFLICT');
    expect(await store.docs.getDoc('p/allergy', 'c')).toBeNull();
    expect((await store.docs.getDoc('p/allergy', 'a'))?.rev).toBe('1-a');
    expect(await store.docs.streamHeads(['p/allergy'])).toEqual([{ stream: 'p/allergy', head: 1 }]);
    expect(committed).toEqual([]);
  });
});
