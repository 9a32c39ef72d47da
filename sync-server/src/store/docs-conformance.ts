/*
 * Conformance of `SyncStore` (types.ts): documents (sequences, compare-and-set, audit, epochs, reads,
 * commit notices). Declared inside `runStoreConformance` (conformance.ts), on the fresh store each test
 * gets there.
 */
import { describe, expect, it } from 'vitest';
import type { StreamHead, SyncStore } from './types';
import {
  auditWrite,
  expectBytes,
  expectStoreError,
  isoAt,
  makeAccount,
  makeDevice,
  makeRevocation,
  makeDocInput,
  okSeq,
  paddedCt,
  waitFor,
  bindStore,
} from './conformance.test-util';

export const describeDocsConformance = (current: () => SyncStore): void => {
  let store: SyncStore;
  bindStore(current, (fresh) => (store = fresh));

  describe('documents', () => {
    const S = 'pat/allergy';

    it('stores a new document with every field and assigns seq 1', async () => {
      const input = makeDocInput(S, 'a', '1-aaa', {
        sig: 'signature',
        ct: paddedCt(300, 7),
        size: 300,
        epoch: 3,
        creator: 'account-a',
      });
      const [result] = await store.docs.writeDocs([{ doc: input, assumedRev: null }], isoAt(5));
      expect(result).toStrictEqual({ status: 'ok', seq: 1 });
      const stored = await store.docs.getDoc(S, 'a');
      expect(stored).not.toBeNull();
      const { ct, ...rest } = stored ?? { ct: null };
      const { ct: inputCt, ...inputRest } = input;
      expect(rest).toStrictEqual({ ...inputRest, seq: 1, at: isoAt(5) });
      expectBytes(ct, inputCt);
      expect(await store.docs.getDoc(S, 'missing')).toBeNull();
      expect(await store.docs.getDoc('pat/medication', 'a')).toBeNull();
    });

    it('round-trips tombstones, empty ciphertext and audit headers', async () => {
      const A = 'pat/audit';
      const rows = [
        {
          doc: makeDocInput(S, 'gone', '2-ddd', { deleted: true, ct: new Uint8Array(0), size: 0 }),
          assumedRev: null,
        },
        {
          doc: makeDocInput(A, 'e1', '1-e1', {
            sig: 's',
            audit: { authorSeq: 1, prevHash: null, at: isoAt(1) },
          }),
          assumedRev: null,
        },
        {
          doc: makeDocInput(A, 'e2', '1-e2', {
            sig: 's',
            audit: { authorSeq: 2, prevHash: 'h1', at: isoAt(2) },
          }),
          assumedRev: null,
        },
      ];
      const results = await store.docs.writeDocs(rows, isoAt(3));
      expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
      const gone = await store.docs.getDoc(S, 'gone');
      expect(gone?.deleted).toBe(true);
      expectBytes(gone?.ct, new Uint8Array(0));
      expect((await store.docs.getDoc(A, 'e1'))?.audit).toStrictEqual({
        authorSeq: 1,
        prevHash: null,
        at: isoAt(1),
      });
      expect((await store.docs.getDoc(A, 'e2'))?.audit).toStrictEqual({
        authorSeq: 2,
        prevHash: 'h1',
        at: isoAt(2),
      });
      expect(gone?.audit).toBeUndefined();
    });

    it("writes a row with expectedEpoch only while it is the stream's current key epoch", async () => {
      const M = 'pat/medication';
      const envelope = (stream: string, epoch: number) => ({
        stream,
        epoch,
        recipient: 'pat',
        keyId: `k-${epoch}`,
        wrapped: 'w',
        createdBy: 'dev-1',
        createdAt: isoAt(epoch),
      });
      await store.envelopes.putAll([envelope(S, 0), envelope(S, 1), envelope(S, 2)]);
      const results = await store.docs.writeDocs(
        [
          { doc: makeDocInput(S, 'old', '1-a', { epoch: 1 }), assumedRev: null, expectedEpoch: 1 },
          { doc: makeDocInput(S, 'cur', '1-a', { epoch: 2 }), assumedRev: null, expectedEpoch: 2 },
          // A stream without envelopes is at epoch 0.
          { doc: makeDocInput(M, 'm0', '1-a', { epoch: 0 }), assumedRev: null, expectedEpoch: 0 },
          { doc: makeDocInput(M, 'm1', '1-a', { epoch: 1 }), assumedRev: null, expectedEpoch: 1 },
          // Without expectedEpoch the store does not look at epochs.
          { doc: makeDocInput(S, 'any', '1-a', { epoch: 7 }), assumedRev: null },
        ],
        isoAt(3),
      );
      expect(results).toStrictEqual([
        { status: 'stale-epoch', epoch: 2 },
        { status: 'ok', seq: 1 },
        { status: 'ok', seq: 1 },
        { status: 'stale-epoch', epoch: 0 },
        { status: 'ok', seq: 2 },
      ]);
      expect(await store.docs.getDoc(S, 'old')).toBeNull();
      expect(await store.docs.getDoc(M, 'm1')).toBeNull();

      // A rotation stored after the writer's check refuses the next write checked against the old epoch.
      await store.envelopes.put(envelope(S, 3));
      const [stale] = await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'cur', '2-b', { epoch: 2 }), assumedRev: '1-a', expectedEpoch: 2 }],
        isoAt(4),
      );
      expect(stale).toStrictEqual({ status: 'stale-epoch', epoch: 3 });
      expect((await store.docs.getDoc(S, 'cur'))?.rev).toBe('1-a');
      expect(await store.docs.streamHeads([S])).toStrictEqual([{ stream: S, head: 2 }]);
      await expectStoreError(
        store.docs.writeDocs(
          [{ doc: makeDocInput(S, 'bad', '1-a'), assumedRev: null, expectedEpoch: -1 }],
          isoAt(5),
        ),
        'INVALID',
      );
    });

    it('compare-and-set: accepts the assumed revision, returns the master on conflict', async () => {
      await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '1-aaa'), assumedRev: null }], isoAt(1));
      const [update] = await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'a', '2-bbb'), assumedRev: '1-aaa' }],
        isoAt(2),
      );
      expect(update).toStrictEqual({ status: 'ok', seq: 2 });

      const [stale, recreate, phantom] = await store.docs.writeDocs(
        [
          { doc: makeDocInput(S, 'a', '2-ccc'), assumedRev: '1-aaa' },
          { doc: makeDocInput(S, 'a', '1-zzz'), assumedRev: null },
          { doc: makeDocInput(S, 'b', '2-yyy'), assumedRev: '1-yyy' },
        ],
        isoAt(3),
      );
      for (const conflict of [stale, recreate]) {
        expect(conflict?.status).toBe('conflict');
        const master = conflict?.status === 'conflict' ? conflict.master : null;
        expect(master?.rev).toBe('2-bbb');
        expect(master?.seq).toBe(2);
        expectBytes(master?.ct, makeDocInput(S, 'a', '2-bbb').ct);
      }
      expect(phantom).toStrictEqual({ status: 'conflict', master: null });
      expect((await store.docs.getDoc(S, 'a'))?.rev).toBe('2-bbb');
      expect(await store.docs.getDoc(S, 'b')).toBeNull();
      expect(await store.docs.streamHeads([S])).toStrictEqual([{ stream: S, head: 2 }]);
    });

    it('rows of one batch see earlier rows of the batch', async () => {
      const results = await store.docs.writeDocs(
        [
          { doc: makeDocInput(S, 'a', '1-a'), assumedRev: null },
          { doc: makeDocInput(S, 'a', '2-a'), assumedRev: '1-a' },
          { doc: makeDocInput(S, 'a', '3-a'), assumedRev: '1-a' },
          { doc: makeDocInput(S, 'b', '1-b'), assumedRev: null },
        ],
        isoAt(1),
      );
      expect(results[0]).toStrictEqual({ status: 'ok', seq: 1 });
      expect(results[1]).toStrictEqual({ status: 'ok', seq: 2 });
      expect(results[2]?.status === 'conflict' ? results[2].master?.rev : 'no conflict').toBe('2-a');
      expect(results[3]).toStrictEqual({ status: 'ok', seq: 3 });
    });

    it('a tombstone can be followed by a new revision that assumes it', async () => {
      await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '1-a'), assumedRev: null }], isoAt(1));
      await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'a', '2-a', { deleted: true }), assumedRev: '1-a' }],
        isoAt(2),
      );
      const [again] = await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'a', '3-a'), assumedRev: '2-a' }],
        isoAt(3),
      );
      expect(again).toStrictEqual({ status: 'ok', seq: 3 });
      expect((await store.docs.getDoc(S, 'a'))?.deleted).toBe(false);
    });

    it("keeps a record's creator from the row that created it, through others' updates and a deletion", async () => {
      /** Version `rev` of record `id`, carrying `creator` (none when undefined). */
      const by = (
        id: string,
        rev: string,
        creator: string | undefined,
        extra: Parameters<typeof makeDocInput>[3] = {},
      ) => makeDocInput(S, id, rev, { ...extra, ...(creator === undefined ? {} : { creator }) });
      await store.docs.writeDocs([{ doc: by('a', '1-a', 'account-a'), assumedRev: null }], isoAt(1));
      // Other accounts' versions, two in one batch, then a deletion and a version over it.
      const updates = await store.docs.writeDocs(
        [
          { doc: by('a', '2-a', 'account-b', { author: 'device-b' }), assumedRev: '1-a' },
          { doc: by('a', '3-a', 'account-c', { author: 'device-c' }), assumedRev: '2-a' },
        ],
        isoAt(2),
      );
      expect(updates.map((r) => r.status)).toEqual(['ok', 'ok']);
      await store.docs.writeDocs(
        [{ doc: by('a', '4-a', 'account-b', { author: 'device-b', deleted: true }), assumedRev: '3-a' }],
        isoAt(3),
      );
      const deleted = await store.docs.getDoc(S, 'a');
      expect([deleted?.deleted, deleted?.author, deleted?.creator]).toEqual([true, 'device-b', 'account-a']);
      await store.docs.writeDocs([{ doc: by('a', '5-a', 'account-c'), assumedRev: '4-a' }], isoAt(4));
      expect((await store.docs.getDoc(S, 'a'))?.creator).toBe('account-a');
      // Answered with a conflict's stored version and by reads too.
      const [conflict] = await store.docs.writeDocs(
        [{ doc: by('a', '5-z', 'account-c'), assumedRev: '4-a' }],
        isoAt(5),
      );
      expect(conflict?.status === 'conflict' ? conflict.master?.creator : 'no conflict').toBe('account-a');
      const page = await store.docs.readDocs(S, 0, 10, 1 << 20);
      expect(page.docs.map((d) => [d.rev, d.creator])).toEqual([['5-a', 'account-a']]);

      // A record created without one has none, whatever later rows carry.
      await store.docs.writeDocs([{ doc: by('b', '1-b', undefined), assumedRev: null }], isoAt(6));
      expect((await store.docs.getDoc(S, 'b'))?.creator).toBeUndefined();
      await store.docs.writeDocs([{ doc: by('b', '2-b', 'account-b'), assumedRev: '1-b' }], isoAt(7));
      const b = await store.docs.getDoc(S, 'b');
      expect(b?.rev).toBe('2-b');
      expect(b !== null && 'creator' in b).toBe(false);
      await expectStoreError(
        store.docs.writeDocs([{ doc: by('c', '1-c', ''), assumedRev: null }], isoAt(8)),
        'INVALID',
      );
    });

    it('audit streams are append-only: existing ids are never overwritten', async () => {
      const A = 'pat/audit';
      const first = makeDocInput(A, 'e1', '1-e1');
      await store.docs.writeDocs([{ doc: first, assumedRev: null }], isoAt(1));
      const results = await store.docs.writeDocs(
        [
          { doc: makeDocInput(A, 'e1', '2-e1'), assumedRev: '1-e1' },
          { doc: makeDocInput(A, 'e1', '2-e1', { deleted: true }), assumedRev: '1-e1' },
          { doc: makeDocInput(A, 'e1', '1-e1'), assumedRev: null },
          { doc: makeDocInput(A, 'e2', '1-e2'), assumedRev: null },
        ],
        isoAt(2),
      );
      expect(results).toStrictEqual([
        { status: 'append-only' },
        { status: 'append-only' },
        { status: 'append-only' },
        { status: 'ok', seq: 2 },
      ]);
      const stored = await store.docs.getDoc(A, 'e1');
      expect(stored?.rev).toBe('1-e1');
      expect(stored?.deleted).toBe(false);
      expect(stored?.seq).toBe(1);
      // Only the `/audit` suffix makes a stream append-only.
      await store.docs.writeDocs(
        [{ doc: makeDocInput('pat/audit-x', 'e1', '1-x'), assumedRev: null }],
        isoAt(3),
      );
      const [plain] = await store.docs.writeDocs(
        [{ doc: makeDocInput('pat/audit-x', 'e1', '2-x'), assumedRev: '1-x' }],
        isoAt(4),
      );
      expect(plain?.status).toBe('ok');
    });

    it("auditChainEnd finds the end of an author's chain stored in order (the server's own) in one stream", async () => {
      const A = 'pat/audit';
      const entry = auditWrite;
      expect(await store.docs.auditChainEnd(A, 'srv')).toBeNull();
      await store.docs.writeDocs([entry(A, 's1', 'srv', 1), entry(A, 'd1', 'dev', 1)], isoAt(1));
      await store.docs.writeDocs([entry(A, 's2', 'srv', 2), entry(A, 'd2', 'dev', 2)], isoAt(2));
      // Later rows of other authors, of the author in another stream, and one without an audit header.
      await store.docs.writeDocs(
        [
          entry(A, 'd3', 'dev', 3),
          entry('other/audit', 'o1', 'srv', 7),
          { doc: makeDocInput(A, 'bare', '1-bare', { author: 'srv' }), assumedRev: null },
        ],
        isoAt(3),
      );
      expect(await store.docs.auditChainEnd(A, 'srv')).toStrictEqual(await store.docs.getDoc(A, 's2'));
      expect((await store.docs.auditChainEnd(A, 'srv'))?.audit).toStrictEqual({
        authorSeq: 2,
        prevHash: 'h1',
        at: isoAt(2),
      });
      expect((await store.docs.auditChainEnd(A, 'dev'))?.id).toBe('d3');
      expect((await store.docs.auditChainEnd('other/audit', 'srv'))?.id).toBe('o1');
      expect(await store.docs.auditChainEnd(A, 'nobody')).toBeNull();
      expect(await store.docs.auditChainEnd('pat/allergy', 'srv')).toBeNull();
    });

    it("auditChainEnd finds an author's entry at its highest position in one stream, in any order stored", async () => {
      const A = 'pat/audit';
      const entry = auditWrite;
      expect(await store.docs.auditChainEnd(A, 'dev')).toBeNull();
      // Position 4 stored before 2 and 3 (sent again after a restore that lost them).
      await store.docs.writeDocs([entry(A, 'd1', 'dev', 1), entry(A, 'd4', 'dev', 4)], isoAt(1));
      await store.docs.writeDocs([entry(A, 'd2', 'dev', 2), entry(A, 'd3', 'dev', 3)], isoAt(2));
      // Later rows of other authors, of the author in another stream, and one without an audit header.
      await store.docs.writeDocs(
        [
          entry(A, 's9', 'srv', 9),
          entry('other/audit', 'o7', 'dev', 7),
          { doc: makeDocInput(A, 'bare', '1-bare', { author: 'dev' }), assumedRev: null },
        ],
        isoAt(3),
      );
      expect(await store.docs.auditChainEnd(A, 'dev')).toStrictEqual(await store.docs.getDoc(A, 'd4'));
      // Not the author's latest by seq.
      expect((await store.docs.getDoc(A, 'd3'))?.seq).toBeGreaterThan(
        (await store.docs.getDoc(A, 'd4'))?.seq ?? Infinity,
      );
      expect((await store.docs.auditChainEnd(A, 'srv'))?.id).toBe('s9');
      expect((await store.docs.auditChainEnd('other/audit', 'dev'))?.id).toBe('o7');
      expect(await store.docs.auditChainEnd(A, 'nobody')).toBeNull();
      expect(await store.docs.auditChainEnd('pat/allergy', 'dev')).toBeNull();
    });

    describe('auditEntriesOfAccountSince', () => {
      it("counts every device of the account, from a receive time on, and no other author's entries", async () => {
        const A = 'pat/audit';
        const entry = auditWrite;
        await store.accounts.register(
          makeAccount('clinic', { role: 'provider' }),
          makeDevice('c1', 'clinic'),
        );
        await store.devices.put(makeDevice('c2', 'clinic'));
        await store.devices.put(makeDevice('c3', 'clinic'));
        await store.accounts.register(makeAccount('other', { role: 'provider' }), makeDevice('o1', 'other'));
        const counted = (accountId: string, since: number) =>
          store.docs.auditEntriesOfAccountSince(A, accountId, isoAt(since));
        expect(await counted('clinic', 0)).toStrictEqual({ count: 0, first: null });

        await store.docs.writeDocs([entry(A, 'a', 'c1', 1), entry(A, 'b', 'c2', 1)], isoAt(1));
        await store.docs.writeDocs([entry(A, 'c', 'c3', 1), entry(A, 'd', 'c1', 2)], isoAt(2));
        await store.devices.revoke('c3', isoAt(3), makeRevocation('c3', isoAt(3)));
        // Not counted: the server's entries, another account's, the account's in another stream, and a
        // row of one of its devices without an audit header.
        await store.docs.writeDocs(
          [
            entry(A, 's', 'srv', 1),
            entry(A, 'o', 'o1', 1),
            entry('other/audit', 'x', 'c1', 1),
            { doc: makeDocInput(A, 'bare', '1-bare', { author: 'c2' }), assumedRev: null },
          ],
          isoAt(3),
        );
        expect([
          await counted('clinic', 0),
          await counted('clinic', 2),
          await counted('other', 0),
          await counted('nobody', 0),
        ]).toStrictEqual([
          { count: 4, first: isoAt(1) },
          { count: 2, first: isoAt(2) },
          { count: 1, first: isoAt(3) },
          { count: 0, first: null },
        ]);
      });
    });

    it('concurrent batches get gap-free, strictly increasing seqs per stream', async () => {
      const streams = ['pat/allergy', 'pat/medication', 'other/allergy'];
      const batches = Array.from({ length: 24 }, (_, b) =>
        Array.from({ length: 10 }, (_, i) => ({
          doc: makeDocInput(streams[(b + i) % streams.length] ?? S, `d-${b}-${i}`, '1-x'),
          assumedRev: null,
        })),
      );
      const results = await Promise.all(batches.map((rows) => store.docs.writeDocs(rows, isoAt(1))));
      for (const stream of streams) {
        const seqs = batches
          .flatMap((rows, b) => rows.map((row, i) => ({ row, result: results[b]?.[i] })))
          .filter(({ row }) => row.doc.stream === stream)
          .map(({ result }) => okSeq(result));
        const expected = Array.from({ length: seqs.length }, (_, i) => i + 1);
        expect([...seqs].sort((x, y) => x - y)).toEqual(expected);
        const page = await store.docs.readDocs(stream, 0, 1000, 10_000_000);
        expect(page.docs.map((d) => d.seq)).toEqual(expected);
        expect(page.done).toBe(true);
      }
      // Each batch's seqs within one stream increase in row order.
      for (const [b, rows] of batches.entries()) {
        for (const stream of streams) {
          const seqs = rows.flatMap((row, i) => (row.doc.stream === stream ? [okSeq(results[b]?.[i])] : []));
          expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        }
      }
      const heads = await store.docs.streamHeads([...streams, 'nobody/allergy']);
      expect(heads).toStrictEqual([
        { stream: 'pat/allergy', head: 80 },
        { stream: 'pat/medication', head: 80 },
        { stream: 'other/allergy', head: 80 },
        { stream: 'nobody/allergy', head: 0 },
      ]);
    });

    it('a batch that fails validation stores nothing', async () => {
      const bad = { ...makeDocInput(S, 'b', '1-b'), ct: 'not bytes' as unknown as Uint8Array };
      await expectStoreError(
        store.docs.writeDocs(
          [
            { doc: makeDocInput(S, 'a', '1-a'), assumedRev: null },
            { doc: bad, assumedRev: null },
          ],
          isoAt(1),
        ),
        'INVALID',
      );
      expect(await store.docs.getDoc(S, 'a')).toBeNull();
      expect(await store.docs.streamHeads([S])).toStrictEqual([{ stream: S, head: 0 }]);
    });

    const writeMany = async (stream: string, n: number, ctBytes = 10): Promise<void> => {
      const rows = Array.from({ length: n }, (_, i) => ({
        doc: makeDocInput(stream, `d${String(i).padStart(4, '0')}`, '1-x', {
          ct: paddedCt(ctBytes, i % 251),
        }),
        assumedRev: null,
      }));
      await store.docs.writeDocs(rows, isoAt(1));
    };

    it('readDocs pages by count with checkpoints and done', async () => {
      await writeMany(S, 10);
      const pages: Array<{ seqs: number[]; checkpoint: number; done: boolean }> = [];
      let since = 0;
      for (let guard = 0; guard < 10; guard++) {
        const page = await store.docs.readDocs(S, since, 3, 1_000_000);
        pages.push({ seqs: page.docs.map((d) => d.seq), checkpoint: page.checkpoint, done: page.done });
        since = page.checkpoint;
        if (page.done) break;
      }
      expect(pages).toStrictEqual([
        { seqs: [1, 2, 3], checkpoint: 3, done: false },
        { seqs: [4, 5, 6], checkpoint: 6, done: false },
        { seqs: [7, 8, 9], checkpoint: 9, done: false },
        { seqs: [10], checkpoint: 10, done: true },
      ]);
      const exact = await store.docs.readDocs(S, 7, 3, 1_000_000);
      expect(exact.docs.map((d) => d.seq)).toEqual([8, 9, 10]);
      expect(exact.done).toBe(true);
      expect(await store.docs.readDocs(S, 10, 3, 1_000_000)).toStrictEqual({
        docs: [],
        checkpoint: 10,
        done: true,
      });
      expect(await store.docs.readDocs(S, 99, 3, 1_000_000)).toStrictEqual({
        docs: [],
        checkpoint: 99,
        done: true,
      });
      expect(await store.docs.readDocs('pat/other', 0, 3, 1_000_000)).toStrictEqual({
        docs: [],
        checkpoint: 0,
        done: true,
      });
    });

    it('readDocs pages by bytes but always returns at least one document', async () => {
      await writeMany(S, 5, 100);
      const twoPerPage = await store.docs.readDocs(S, 0, 100, 250);
      expect(twoPerPage.docs.map((d) => d.seq)).toEqual([1, 2]);
      expect(twoPerPage.done).toBe(false);
      const exactFit = await store.docs.readDocs(S, 0, 100, 300);
      expect(exactFit.docs.map((d) => d.seq)).toEqual([1, 2, 3]);
      const tooSmall = await store.docs.readDocs(S, 2, 100, 10);
      expect(tooSmall.docs.map((d) => d.seq)).toEqual([3]);
      expect(tooSmall.checkpoint).toBe(3);
      expect(tooSmall.done).toBe(false);
      const last = await store.docs.readDocs(S, 4, 100, 10);
      expect(last.docs.map((d) => d.seq)).toEqual([5]);
      expect(last.done).toBe(true);
      expectBytes(last.docs[0]?.ct, paddedCt(100, 4));
    });

    it('readDocs returns the latest version at its new seq', async () => {
      await writeMany(S, 3);
      await store.docs.writeDocs([{ doc: makeDocInput(S, 'd0000', '2-y'), assumedRev: '1-x' }], isoAt(2));
      const page = await store.docs.readDocs(S, 0, 100, 1_000_000);
      expect(page.docs.map((d) => [d.id, d.seq, d.rev])).toEqual([
        ['d0001', 2, '1-x'],
        ['d0002', 3, '1-x'],
        ['d0000', 4, '2-y'],
      ]);
      expect(page.docs.map((d) => d.at)).toEqual([isoAt(1), isoAt(1), isoAt(2)]);
    });

    it('onCommitted fires after commit with the advanced heads, until unsubscribed', async () => {
      const calls: StreamHead[][] = [];
      const seen: Array<Promise<number>> = [];
      const unsubscribe = store.onCommitted((heads) => {
        calls.push(heads);
        // After commit, the new documents must already be readable.
        seen.push(store.docs.readDocs(S, 0, 100, 1_000_000).then((p) => p.docs.length));
      });
      await store.docs.writeDocs(
        [
          { doc: makeDocInput(S, 'a', '1-a'), assumedRev: null },
          { doc: makeDocInput(S, 'b', '1-b'), assumedRev: null },
          { doc: makeDocInput('pat/medication', 'm', '1-m'), assumedRev: 'wrong' },
        ],
        isoAt(1),
      );
      await waitFor(() => calls.length >= 1);
      expect(calls[0]).toStrictEqual([{ stream: S, head: 2 }]);
      expect(await Promise.all(seen)).toEqual([2]);

      await store.docs.writeDocs([{ doc: makeDocInput(S, 'a', '1-a'), assumedRev: null }], isoAt(2));
      await store.docs.writeDocs([], isoAt(2));
      unsubscribe();
      await store.docs.writeDocs([{ doc: makeDocInput(S, 'c', '1-c'), assumedRev: null }], isoAt(3));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(calls).toHaveLength(1);
    });

    it('a throwing listener neither fails the write nor stops other listeners', async () => {
      const heads: StreamHead[][] = [];
      store.onCommitted(() => {
        throw new Error('listener bug');
      });
      store.onCommitted((h) => heads.push(h));
      const [result] = await store.docs.writeDocs(
        [{ doc: makeDocInput(S, 'a', '1-a'), assumedRev: null }],
        isoAt(1),
      );
      expect(result).toStrictEqual({ status: 'ok', seq: 1 });
      await waitFor(() => heads.length === 1);
      expect((await store.docs.getDoc(S, 'a'))?.rev).toBe('1-a');
    });
  });
};
