// Split brain in a CouchDB cluster (couch/conflicts.ts), made here as a partition would leave it: revisions
// written with `new_edits: false` beside the ones the store wrote. A rival commit at the number of an
// acknowledged one (its branch longer, so CouchDB would pick it) and the record it wrote on its side lose to
// the acknowledged commit; a record with a conflicting revision is read at its latest commit; the losing
// revisions are deleted, and the next write goes on from the acknowledged history.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoAt, makeDocInput } from './conformance';
import { key } from './couch/db';
import { openCouchStore } from './couch/store';
import { startPouchServer, type PouchServer } from '../testing/pouchdb-server';

let server: PouchServer;
beforeAll(async () => {
  server = await startPouchServer({ inMemory: true });
}, 30_000);
afterAll(async () => {
  await server.stop();
});

const S = 'pat/allergy';
const raw = (path: string, init?: { method: string; body: unknown }) => server.request(path, init);
/** Writes `doc` as a revision of its own branch, as the other side of a partition would have. */
const inject = async (db: string, doc: Record<string, unknown>, gen: number): Promise<void> => {
  const ids = Array.from({ length: gen }, (_, i) =>
    `f${gen - i}${randomUUID().replaceAll('-', '')}`.slice(0, 32),
  );
  await raw(`${db}/_bulk_docs`, {
    method: 'POST',
    body: { new_edits: false, docs: [{ ...doc, _rev: `${gen}-${ids[0]}`, _revisions: { start: gen, ids } }] },
  });
};
const conflictsOf = async (db: string, id: string): Promise<unknown> =>
  (await raw(`${db}/${encodeURIComponent(id)}?conflicts=true`))['_conflicts'];

describe('conflicting revisions from a partitioned cluster', () => {
  it('a rival commit at an acknowledged number loses, with what it wrote; the store goes on from the acknowledged one', async () => {
    const database = `c-${randomUUID()}`;
    const store = await openCouchStore({ url: server.url, database, onListenerError: () => undefined });
    await store.init();
    try {
      const [ok] = await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'mine', '1-m'), assumedRev: null }],
        isoAt(1),
      );
      expect(ok).toEqual({ status: 'ok', seq: 1 });
      const commitId = key('l', 'pat', 1);
      const rivalDoc = key('d', S, 'rival');
      const rivalIndex = {
        _id: rivalDoc,
        stream: S,
        id: 'rival',
        seq: 1,
        rev: '1-r',
        deleted: false,
        bytes: 0,
        q: 1,
      };
      const rivalEntry = {
        rev: '1-r',
        deleted: false,
        epoch: 1,
        ct: '',
        bytes: 0,
        size: 0,
        author: 'x',
        at: isoAt(1),
      };
      const rivalOps = [
        { t: 'put', doc: rivalIndex },
        { t: 'create', doc: { _id: key('q', S, 1), first: 1, ids: ['rival'], v: [rivalEntry] } },
      ];
      // The rival: commit 1 of the same shard, written on the other side, with a longer branch (CouchDB's
      // winner), and the record it wrote there.
      await inject(
        `${database}-log`,
        {
          _id: commitId,
          shard: 'pat',
          n: 1,
          node: 'other-side',
          token: 'rival',
          state: { heads: { [S]: 1 } },
          base: { heads: {} },
          _attachments: {
            ops: {
              content_type: 'application/json',
              data: Buffer.from(JSON.stringify(rivalOps)).toString('base64'),
            },
          },
          advanced: [{ stream: S, head: 1 }],
          events: [],
        },
        5,
      );
      await inject(database, { ...rivalIndex, cn: 1 }, 1);
      expect(await conflictsOf(`${database}-log`, commitId)).toHaveLength(1);

      expect(await store.docs.streamHeads([S])).toEqual([{ stream: S, head: 1 }]);
      expect((await store.docs.readDocs(S, 0, 10, 1 << 20)).docs.map((d) => d.id)).toEqual(['mine']);
      expect(await store.docs.getDoc(S, 'rival')).toBeNull();
      expect(await conflictsOf(`${database}-log`, commitId)).toBeUndefined();
      expect((await raw(`${database}-log/${encodeURIComponent(commitId)}`))['token']).not.toBe('rival');
      const [next] = await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'next', '1-n'), assumedRev: null }],
        isoAt(2),
      );
      expect(next).toEqual({ status: 'ok', seq: 2 });
      expect((await store.docs.readDocs(S, 0, 10, 1 << 20)).docs.map((d) => [d.id, d.seq])).toEqual([
        ['mine', 1],
        ['next', 2],
      ]);
    } finally {
      await store.close();
    }
  });

  it('a record with a conflicting older revision is read at its latest commit, and the loser deleted', async () => {
    const database = `c-${randomUUID()}`;
    const store = await openCouchStore({ url: server.url, database, onListenerError: () => undefined });
    await store.init();
    try {
      await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '1-a'), assumedRev: null }], isoAt(1));
      await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '2-a'), assumedRev: '1-a' }], isoAt(2));
      const id = key('d', S, 'a');
      // The version of commit 1 again, on a longer branch: CouchDB would serve it.
      const stored = await raw(`${database}/${encodeURIComponent(id)}`);
      await inject(
        database,
        { ...stored, _rev: undefined, _revisions: undefined, rev: '1-a', seq: 1, cn: 1 },
        9,
      );
      expect(await conflictsOf(database, id)).toHaveLength(1);
      expect((await store.docs.getDoc(S, 'a'))?.rev).toBe('2-a');
      expect(await conflictsOf(database, id)).toBeUndefined();
      // Compare-and-set goes on from the latest.
      const [again] = await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'a', '3-a'), assumedRev: '2-a' }],
        isoAt(3),
      );
      expect(again).toEqual({ status: 'ok', seq: 3 });
    } finally {
      await store.close();
    }
  });
});
