// The CouchDB store's push path (couch/commit-ops.ts, the stream blocks of couch/blocks.ts): a batch's
// ops travel once (the commit's attachment; its applied mark a stub), each version is stored once (in its
// block; the record's document an index, a superseded version marked), another instance applies a commit
// left unapplied from its attachment, a conflicted commit's losing leaf is undone from its own attachment,
// pages cut inside a block, superseded versions and blocks of one record (as a migration writes them) read
// as the rest; and what a batch must not do: one record outside the guard's patients refuses the whole
// batch (as on SQLite), a stale revision in a batch of 100 is answered a conflict and takes no seq.
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isoAt, makeAccount, makeDocInput } from './conformance';
import { key } from './couch/db';
import { openCouchStore, type CouchStore } from './couch/store';
import { openSqliteStore } from './sqlite-store';
import { useTempDirs } from './temp-dirs.test-util';
import type { AccessGuard, DocWrite, Grant, SyncStore } from './types';
import { startPouchServer, type PouchServer } from '../testing/pouchdb-server';

const newDir = useTempDirs('hale-push-batch-');
let server: PouchServer;
beforeAll(async () => {
  server = await startPouchServer({ inMemory: true });
}, 30_000);
afterAll(async () => {
  await server.stop();
});
const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const S = 'pat/allergy';
const quiet = { onListenerError: () => undefined };
const couchStore = async (database = `b-${randomUUID()}`): Promise<CouchStore> => {
  const store = await openCouchStore({ url: server.url, database, ...quiet });
  await store.init();
  open.push(store);
  return store;
};
const sqliteStore = async (): Promise<SyncStore> => {
  const store = await openSqliteStore({ dataDir: join(newDir(), 'data'), ...quiet });
  await store.init();
  open.push(store);
  return store;
};

const http = (path: string, init?: { method: string; body: unknown }) => server.request(path, init);
const docPath = (db: string, id: string, query = ''): string => `${db}/${encodeURIComponent(id)}${query}`;
/** Ops as a new commit's attachment carries them (commit-ops.ts `withOps`). */
const opsAttachment = (ops: unknown[]) => ({
  ops: { content_type: 'application/json', data: Buffer.from(JSON.stringify(ops)).toString('base64') },
});
const ct = (id: string): string => Buffer.from(`ct ${id}`).toString('base64');
/** A record's index as a commit writes it (couch/docs.ts): its version is in block `q`. */
const record = (stream: string, id: string, seq: number, rev: string, q = seq) => ({
  t: 'put',
  doc: { _id: key('d', stream, id), stream, id, seq, rev, deleted: false, bytes: 4 + id.length, q },
});
/** The block of `versions` ([id, rev]) at seqs `first`… (couch/blocks.ts), as a commit creates it. */
const block = (stream: string, first: number, versions: Array<[id: string, rev: string]>) => ({
  t: 'create',
  doc: {
    _id: key('q', stream, first + versions.length - 1),
    first,
    ids: versions.map(([id]) => id),
    v: versions.map(([id, rev], i) => ({
      rev,
      deleted: false,
      epoch: 1,
      ct: ct(id),
      bytes: 4 + id.length,
      size: 4 + id.length,
      author: 'device-a',
      at: isoAt(first + i),
    })),
  },
});
const batch = (n: number, prefix = 'r', stream = S): DocWrite[] =>
  Array.from({ length: n }, (_, i) => ({
    doc: makeDocInput(stream, `${prefix}${String(i).padStart(3, '0')}`, `1-${prefix}${i}`),
    assumedRev: null,
  }));
const idsRead = async (store: SyncStore, since = 0, limit = 1000): Promise<string[]> =>
  (await store.docs.readDocs(S, since, limit, 1 << 24)).docs.map((d) => `${d.id}@${d.seq}`);

describe('a push batch on the CouchDB store', () => {
  it("writes its ops once: the commit's attachment, the applied mark a stub naming it", async () => {
    const database = `b-${randomUUID()}`;
    const store = await couchStore(database);
    const results = await store.docs.writeDocs(batch(100), isoAt(1));
    expect(results.map((r) => (r.status === 'ok' ? r.seq : r.status))).toEqual(
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    // The mark is answered after the write: read until it is there.
    let commit: Record<string, unknown> = {};
    for (let i = 0; i < 100 && commit['applied'] !== true; i++) {
      commit = await http(docPath(`${database}-log`, key('l', 'pat', 1)));
      if (commit['applied'] !== true) await new Promise((r) => setTimeout(r, 20));
    }
    expect(commit['applied']).toBe(true);
    expect(commit['ops']).toBeUndefined();
    expect(String(commit['_rev'])).toMatch(/^2-/);
    const att = (commit['_attachments'] as Record<string, Record<string, unknown>>)['ops'];
    expect(att?.['stub']).toBe(true);
    const full = await http(docPath(`${database}-log`, key('l', 'pat', 1), '?attachments=true'));
    const data = (full['_attachments'] as Record<string, { data: string }>)['ops']?.data ?? '';
    // The stub names the attachment the create wrote.
    expect(att?.['digest']).toBe(
      `md5-${createHash('md5').update(Buffer.from(data, 'base64')).digest('base64')}`,
    );
    const ops = JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as Array<{ doc: { _id: string } }>;
    // 100 records and one stream-index block for their seqs.
    expect(ops).toHaveLength(101);
    expect(ops.at(-1)?.doc._id).toBe(key('q', S, 100));
    const block = await http(docPath(database, key('q', S, 100)));
    expect(block['first']).toBe(1);
    expect((block['ids'] as string[]).length).toBe(100);
    // Each version once: whole in the block, its record document an index naming the block.
    const versions = block['v'] as Array<Record<string, unknown>>;
    expect(versions.map((v) => v['rev'])).toEqual(Array.from({ length: 100 }, (_, i) => `1-r${i}`));
    expect(typeof versions[0]?.['ct']).toBe('string');
    const index = await http(docPath(database, key('d', S, 'r007')));
    expect(index['ct']).toBeUndefined();
    expect([index['seq'], index['q'], index['rev']]).toEqual([8, 100, '1-r7']);
    // Written again: the version it supersedes is marked in its block's range.
    await store.docs.writeDocs([{ doc: makeDocInput(S, 'r007', '2-r7'), assumedRev: '1-r7' }], isoAt(2));
    expect((await store.docs.getDoc(S, 'r007'))?.rev).toBe('2-r7');
    expect((await http(docPath(database, key('qx', S, 8))))['_id']).toBe(key('qx', S, 8));
    const read = await idsRead(store);
    expect(read).toHaveLength(100);
    expect([read.includes('r007@8'), read.at(-1)]).toEqual([false, 'r007@101']);
  });

  it('another instance applies a commit left unapplied from its attachment, then goes on from it', async () => {
    const database = `b-${randomUUID()}`;
    const a = await couchStore(database);
    await a.docs.writeDocs(batch(2, 'a'), isoAt(1));
    // Commit 2, created by a node that stopped before applying it.
    await http(docPath(`${database}-log`, key('l', 'pat', 2)), {
      method: 'PUT',
      body: {
        shard: 'pat',
        n: 2,
        node: 'stopped',
        token: 'stopped',
        state: { heads: { [S]: 4 } },
        base: { heads: { [S]: 2 } },
        advanced: [{ stream: S, head: 4 }],
        events: [],
        _attachments: opsAttachment([
          record(S, 'x', 3, '1-x', 4),
          record(S, 'y', 4, '1-y', 4),
          block(S, 3, [
            ['x', '1-x'],
            ['y', '1-y'],
          ]),
        ]),
      },
    });
    const b = await couchStore(database);
    expect(await idsRead(b)).toEqual(['a000@1', 'a001@2', 'x@3', 'y@4']);
    const [next] = await b.docs.writeDocs(batch(1, 'b'), isoAt(2));
    expect(next).toEqual({ status: 'ok', seq: 5 });
    const commit = await http(docPath(`${database}-log`, key('l', 'pat', 2)));
    expect(commit['applied']).toBe(true);
  });

  it('a rival commit whose ops are an attachment loses to the acknowledged one, with what it wrote', async () => {
    const database = `b-${randomUUID()}`;
    const store = await couchStore(database);
    await store.docs.writeDocs(batch(1, 'm'), isoAt(1));
    const ids = Array.from({ length: 5 }, (_, i) =>
      `f${5 - i}${randomUUID().replaceAll('-', '')}`.slice(0, 32),
    );
    await http(`${database}-log/_bulk_docs`, {
      method: 'POST',
      body: {
        new_edits: false,
        docs: [
          {
            _id: key('l', 'pat', 1),
            _rev: `5-${ids[0]}`,
            _revisions: { start: 5, ids },
            shard: 'pat',
            n: 1,
            node: 'other-side',
            token: 'rival',
            state: { heads: { [S]: 1 } },
            base: { heads: {} },
            advanced: [{ stream: S, head: 1 }],
            events: [],
            _attachments: opsAttachment([record(S, 'rival', 1, '1-r')]),
          },
        ],
      },
    });
    // The rival's record, as its side applied it.
    await http(docPath(database, key('d', S, 'rival')), {
      method: 'PUT',
      body: { ...record(S, 'rival', 1, '1-r').doc, cn: 1 },
    });
    expect((await http(docPath(database, key('d', S, 'rival'))))['id']).toBe('rival');
    expect(await idsRead(store)).toEqual(['m000@1']);
    expect(await store.docs.streamHeads([S])).toEqual([{ stream: S, head: 1 }]);
    // Its settle resolved the conflict: the rival's record is gone, the next write goes on.
    const [next] = await store.docs.writeDocs(batch(1, 'n'), isoAt(2));
    expect(next).toEqual({ status: 'ok', seq: 2 });
    expect(await store.docs.getDoc(S, 'rival')).toBeNull();
    expect(await idsRead(store)).toEqual(['m000@1', 'n000@2']);
  });

  it('reads pages cut inside a block, superseded versions dropped, one-record blocks beside batch blocks', async () => {
    const database = `b-${randomUUID()}`;
    const store = await couchStore(database);
    // A commit with a block per record, as a migration writes them (couch/migration-writes.ts), unapplied.
    await http(docPath(`${database}-log`, key('l', 'pat', 1)), {
      method: 'PUT',
      body: {
        shard: 'pat',
        n: 1,
        node: 'migration',
        token: 'migration',
        state: { heads: { [S]: 2 } },
        base: { heads: {} },
        _attachments: opsAttachment([
          record(S, 'o1', 1, '1-o1'),
          block(S, 1, [['o1', '1-o1']]),
          record(S, 'o2', 2, '1-o2'),
          block(S, 2, [['o2', '1-o2']]),
        ]),
        advanced: [{ stream: S, head: 2 }],
        events: [],
      },
    });
    await store.docs.writeDocs(batch(30), isoAt(1));
    // One batch writing r005 again (superseding seq 8) and o2 (superseding seq 2), a new one between.
    await store.docs.writeDocs(
      [
        { doc: makeDocInput(S, 'r005', '2-r5'), assumedRev: '1-r5' },
        { doc: makeDocInput(S, 'new', '1-new'), assumedRev: null },
        { doc: makeDocInput(S, 'o2', '2-o2'), assumedRev: '1-o2' },
      ],
      isoAt(2),
    );
    const all = await idsRead(store);
    const expected = [
      'o1@1',
      ...Array.from({ length: 30 }, (_, i) => `r${String(i).padStart(3, '0')}@${i + 3}`).filter(
        (x) => x !== 'r005@8',
      ),
      'r005@33',
      'new@34',
      'o2@35',
    ];
    expect(all).toEqual(expected);
    // Pages cut at and inside blocks, from starts in either format, at a superseded seq, in the last
    // batch: the pages put together are the rest of the stream, in order.
    const cases: Array<[number, number]> = [
      [7, 0],
      [7, 8],
      [16, 1],
      [16, 20],
      [1, 31],
      [2, 2],
      [1, 33],
    ];
    for (const [limit, since] of cases) {
      const pages: string[] = [];
      let from = since;
      for (let i = 0; i < 100; i++) {
        const page = await store.docs.readDocs(S, from, limit, 1 << 24);
        pages.push(...page.docs.map((d) => `${d.id}@${d.seq}`));
        expect(page.docs.length).toBeLessThanOrEqual(limit);
        if (page.done) break;
        expect(page.checkpoint).toBeGreaterThan(from);
        from = page.checkpoint;
      }
      expect(pages).toEqual(expected.filter((x) => Number(x.split('@')[1]) > since));
    }
  });
});

describe('what a push batch must not do, on both stores', () => {
  const grant = (grantId: string, patientId: string): Grant => ({
    grantId,
    patientId,
    granteeId: 'prov',
    scope: [{ type: 'allergy', access: 'write' }],
    start: isoAt(0),
    expiresAt: isoAt(1000),
    issuedAt: isoAt(1),
    signed: { body: { grantId }, sig: 'sig' },
  });
  /** The provider's write is allowed only on streams of patients whose grant the check is given. */
  const guardFor = (patientIds: string[]): AccessGuard => ({
    granteeId: 'prov',
    patientIds,
    at: isoAt(5),
    check: (grants) => {
      for (const p of patientIds) {
        if (!grants.some((g) => g.patientId === p)) throw new Error(`no grant from ${p}`);
      }
    },
  });
  const stores: Array<[string, () => Promise<SyncStore>]> = [
    ['sqlite', sqliteStore],
    ['couchdb', () => couchStore()],
  ];
  for (const [name, make] of stores) {
    describe(name, () => {
      it('a batch of 100 with one record outside its grants is refused whole: nothing stored', async () => {
        const store = await make();
        for (const id of ['pat', 'pat-2', 'prov']) await store.accounts.put(makeAccount(id));
        await store.grants.put(grant('g1', 'pat'));
        const rows = [...batch(99), ...batch(1, 'x', 'pat-2/allergy')];
        const refused = await store.docs
          .writeDocs(rows, isoAt(5), undefined, guardFor(['pat', 'pat-2']))
          .then(
            () => null,
            (error: unknown) => error,
          );
        expect(String(refused)).toContain('no grant from pat-2');
        expect(await store.docs.streamHeads([S, 'pat-2/allergy'])).toEqual([
          { stream: S, head: 0 },
          { stream: 'pat-2/allergy', head: 0 },
        ]);
        expect(await idsRead(store)).toEqual([]);
        // The same batch without the record outside its grants goes through.
        const ok = await store.docs.writeDocs(batch(99), isoAt(5), undefined, guardFor(['pat']));
        expect(ok.every((r) => r.status === 'ok')).toBe(true);
      });

      it('a stale revision among 100 rows is a conflict with the stored version and takes no seq', async () => {
        const store = await make();
        await store.docs.writeDocs(batch(10, 'e'), isoAt(1));
        await store.docs.writeDocs([{ doc: makeDocInput(S, 'e004', '2-e4'), assumedRev: '1-e4' }], isoAt(2));
        const rows = batch(100);
        // Row 50 assumes the revision e004 had before its update.
        rows[50] = { doc: makeDocInput(S, 'e004', '2-stale'), assumedRev: '1-e4' };
        const results = await store.docs.writeDocs(rows, isoAt(3));
        const conflict = results[50];
        expect(conflict?.status).toBe('conflict');
        expect(conflict?.status === 'conflict' ? conflict.master?.rev : null).toBe('2-e4');
        const seqs = results.flatMap((r) => (r.status === 'ok' ? [r.seq] : []));
        expect(seqs).toEqual(Array.from({ length: 99 }, (_, i) => 12 + i));
        const read = await idsRead(store, 11);
        expect(read).toHaveLength(99);
        expect(read.some((x) => x.startsWith('e004'))).toBe(false);
        expect((await store.docs.getDoc(S, 'e004'))?.rev).toBe('2-e4');
      });
    });
  }
});
