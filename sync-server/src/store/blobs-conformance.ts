/*
 * Conformance of `SyncStore` (types.ts): key envelopes, blobs, and blob writes committed with their access
 * entries. Declared inside `runStoreConformance` (conformance.ts), on the fresh store each test gets there.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  BLOB_CHUNK_OVERHEAD_BYTES,
  blobQuotaBytes,
  isStoreError,
  type AccessGuard,
  type BlobManifest,
  type StoreError,
  type StreamHead,
  type SyncStore,
} from './types';
import {
  BLOB_MANIFEST,
  auditWrite,
  catchError,
  expectBytes,
  expectStoreError,
  isoAt,
  makeAccount,
  makeDevice,
  makeRevocation,
  makeDocInput,
  paddedCt,
  bindStore,
} from './conformance.test-util';

export const describeKeysAndBlobsConformance = (current: () => SyncStore): void => {
  let store: SyncStore;
  bindStore(current, (fresh) => (store = fresh));

  describe('envelopes', () => {
    const env = (
      stream: string,
      epoch: number,
      recipient: string,
      wrapped = `w-${stream}-${epoch}-${recipient}`,
    ) => ({
      stream,
      epoch,
      recipient,
      keyId: `k-${epoch}`,
      wrapped,
      createdBy: 'dev-1',
      createdAt: isoAt(epoch),
    });

    it("keeps the publisher's signature with the envelope, and its absence", async () => {
      await store.envelopes.put({ ...env('p/allergy', 1, 'doc'), sig: 'signature' });
      await store.envelopes.put(env('p/allergy', 2, 'doc'));
      expect(await store.envelopes.list('doc')).toStrictEqual([
        { ...env('p/allergy', 1, 'doc'), sig: 'signature' },
        env('p/allergy', 2, 'doc'),
      ]);
    });

    it('put is idempotent per (stream, epoch, recipient): the first envelope stays', async () => {
      expect(await store.envelopes.put(env('p/allergy', 1, 'doc'))).toStrictEqual({ created: true });
      expect(await store.envelopes.put(env('p/allergy', 1, 'doc', 'other'))).toStrictEqual({
        created: false,
      });
      expect(await store.envelopes.list('doc')).toStrictEqual([env('p/allergy', 1, 'doc')]);
    });

    it('putAll stores a batch as put does, one result per envelope in order', async () => {
      await store.envelopes.put(env('p/allergy', 1, 'doc'));
      expect(
        await store.envelopes.putAll([
          env('p/allergy', 2, 'doc'),
          env('p/allergy', 1, 'doc', 'other'),
          { ...env('p/allergy', 2, 'pat'), sig: 'signature' },
          env('p/allergy', 2, 'doc', 'again'),
        ]),
      ).toStrictEqual([{ created: true }, { created: false }, { created: true }, { created: false }]);
      expect(await store.envelopes.list('doc')).toStrictEqual([
        env('p/allergy', 1, 'doc'),
        env('p/allergy', 2, 'doc'),
      ]);
      expect(await store.envelopes.list('pat')).toStrictEqual([
        { ...env('p/allergy', 2, 'pat'), sig: 'signature' },
      ]);
      expect(await store.envelopes.putAll([])).toStrictEqual([]);
    });

    it('putAll stores none of a batch it refuses', async () => {
      await expectStoreError(
        store.envelopes.putAll([env('p/allergy', 1, 'doc'), env('p/allergy', -1, 'pat')]),
        'INVALID',
      );
      await expectStoreError(
        store.envelopes.putAll([env('p/allergy', 1, 'doc'), env('p/allergy', 1, '')]),
        'INVALID',
      );
      expect(await store.envelopes.list('doc')).toStrictEqual([]);
      expect(await store.envelopes.currentEpoch('p/allergy')).toBeNull();
    });

    it('lists per recipient, optionally per stream, and reports the current epoch', async () => {
      const all = [
        env('p/medication', 1, 'doc'),
        env('p/allergy', 2, 'doc'),
        env('p/allergy', 1, 'doc'),
        env('p/allergy', 3, 'pat'),
      ];
      for (const e of all) await store.envelopes.put(e);
      expect(await store.envelopes.list('doc')).toStrictEqual([
        env('p/allergy', 1, 'doc'),
        env('p/allergy', 2, 'doc'),
        env('p/medication', 1, 'doc'),
      ]);
      expect(await store.envelopes.list('doc', ['p/medication', 'p/lab-result'])).toStrictEqual([
        env('p/medication', 1, 'doc'),
      ]);
      expect(await store.envelopes.list('doc', [])).toStrictEqual([]);
      expect(await store.envelopes.list('nobody')).toStrictEqual([]);
      // At most `limit`, the first in the same order.
      expect(await store.envelopes.list('doc', ['p/allergy', 'p/medication'], 2)).toStrictEqual([
        env('p/allergy', 1, 'doc'),
        env('p/allergy', 2, 'doc'),
      ]);
      expect(await store.envelopes.list('doc', undefined, 1)).toStrictEqual([env('p/allergy', 1, 'doc')]);
      expect(await store.envelopes.list('doc', ['p/allergy'], 0)).toStrictEqual([]);
      await expectStoreError(store.envelopes.list('doc', undefined, -1), 'INVALID');
      expect(await store.envelopes.currentEpoch('p/allergy')).toBe(3);
      expect(await store.envelopes.currentEpoch('p/medication')).toBe(1);
      expect(await store.envelopes.currentEpoch('p/none')).toBeNull();
      expect(
        await store.envelopes.currentEpochs(['p/medication', 'p/none', 'p/allergy', 'p/medication']),
      ).toStrictEqual([1, null, 3, 1]);
      expect(await store.envelopes.currentEpochs([])).toStrictEqual([]);
    });

    it('lists the holders of streams and their creators without key material, in order, at most `limit`', async () => {
      for (const e of [
        env('p/allergy', 1, 'pat'),
        env('p/allergy', 0, 'doc'),
        env('p/allergy', 0, 'pat'),
        env('p/medication', 0, 'pat'),
        env('q/allergy', 0, 'pat'),
      ]) {
        await store.envelopes.put(e);
      }
      expect(await store.envelopes.holders(['p/allergy', 'p/medication', 'p/none'], 100)).toStrictEqual([
        { stream: 'p/allergy', epoch: 0, recipient: 'doc', createdBy: 'dev-1' },
        { stream: 'p/allergy', epoch: 0, recipient: 'pat', createdBy: 'dev-1' },
        { stream: 'p/allergy', epoch: 1, recipient: 'pat', createdBy: 'dev-1' },
        { stream: 'p/medication', epoch: 0, recipient: 'pat', createdBy: 'dev-1' },
      ]);
      expect(await store.envelopes.holders(['p/allergy'], 2)).toHaveLength(2);
      expect(await store.envelopes.holders([], 100)).toStrictEqual([]);
    });
  });

  describe('blobs', () => {
    const manifest = BLOB_MANIFEST;

    it('manifests: identical re-put is a no-op, a different one is refused', async () => {
      await store.blobs.putManifest(manifest);
      await store.blobs.putManifest({ ...manifest, digests: [...manifest.digests] });
      // A resumed upload announces again later, possibly from another device: the first stays.
      await store.blobs.putManifest({ ...manifest, createdBy: 'dev-2', createdAt: isoAt(60) });
      expect(await store.blobs.getManifest('blob-1')).toStrictEqual(manifest);
      await expectStoreError(
        store.blobs.putManifest({ ...manifest, digests: ['x', 'y', 'z'] }),
        'ALREADY_EXISTS',
      );
      await expectStoreError(
        store.blobs.putManifest({ ...manifest, blobId: 'b2', chunkCount: 2 }),
        'INVALID',
      );
      expect(await store.blobs.getManifest('blob-2')).toBeNull();
    });

    it("manifests with expectedEpoch: a new one only under the stream's current epoch; a stored one resumes", async () => {
      await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
      const mine = { ...manifest, createdBy: 'dev-q1' };
      const quota = { accountId: 'acc-q', maxBytes: 10 * blobQuotaBytes(manifest) };
      const envelope = (epoch: number) => ({
        stream: manifest.stream,
        epoch,
        recipient: 'p',
        keyId: `k-${epoch}`,
        wrapped: 'w',
        createdBy: 'dev-1',
        createdAt: isoAt(epoch),
      });
      // A stream without envelopes is at epoch 0.
      await store.blobs.putManifest({ ...mine, blobId: 'e-0' }, { quota, expectedEpoch: 0 });
      await store.envelopes.putAll([envelope(0), envelope(1)]);
      const usage = await store.blobs.usage('acc-q');
      for (const expectedEpoch of [0, 2]) {
        const refused = await catchError(
          store.blobs.putManifest({ ...mine, blobId: 'e-stale' }, { quota, expectedEpoch }),
        );
        expect(isStoreError(refused, 'STALE_EPOCH')).toBe(true);
        expect((refused as StoreError).details).toEqual({ epoch: 1 });
      }
      // Nothing stored, nothing reserved, no chunk can follow.
      expect(await store.blobs.getManifest('e-stale')).toBeNull();
      expect(await store.blobs.usage('acc-q')).toBe(usage);
      await expectStoreError(store.blobs.putChunk('e-stale', 0, paddedCt(4, 1)), 'NOT_FOUND');
      await store.blobs.putManifest({ ...mine, blobId: 'e-1' }, { quota, expectedEpoch: 1 });
      expect(await store.blobs.getManifest('e-1')).toStrictEqual({ ...mine, blobId: 'e-1' });
      // Stored before the re-keying: announcing it again resumes, whatever epoch it names.
      await store.blobs.putManifest({ ...mine, blobId: 'e-0' }, { quota, expectedEpoch: 0 });
      await store.blobs.putChunk('e-0', 0, paddedCt(4, 1));
      // A taken id answers as taken, a deleted one as deleted, before any epoch is compared.
      await expectStoreError(
        store.blobs.putManifest({ ...mine, blobId: 'e-0', digests: ['x', 'y', 'z'] }, { expectedEpoch: 0 }),
        'ALREADY_EXISTS',
      );
      await store.blobs.delete('e-0', { deletedBy: 'dev-1', deletedAt: isoAt(9) });
      await expectStoreError(
        store.blobs.putManifest({ ...mine, blobId: 'e-0' }, { expectedEpoch: 0 }),
        'DELETED',
      );
      // Without expectedEpoch the store does not look at epochs (tools, restores).
      await store.blobs.putManifest({ ...mine, blobId: 'e-any' });
      await expectStoreError(store.blobs.putManifest(mine, { expectedEpoch: -1 }), 'INVALID');
    });

    it('chunks: stored by index, checked against the manifest', async () => {
      await expectStoreError(store.blobs.putChunk('blob-1', 0, paddedCt(4, 1)), 'NOT_FOUND');
      await store.blobs.putManifest(manifest);
      await store.blobs.putChunk('blob-1', 2, paddedCt(2, 3));
      await store.blobs.putChunk('blob-1', 0, paddedCt(4, 1));
      expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0, 2]);
      expect(await store.blobs.getChunk('blob-1', 1)).toBeNull();
      await expectStoreError(store.blobs.putChunk('blob-1', 3, paddedCt(4, 1)), 'INVALID');
      await expectStoreError(store.blobs.putChunk('blob-1', -1, paddedCt(4, 1)), 'INVALID');
      await expectStoreError(store.blobs.putChunk('blob-1', 1, paddedCt(3, 1)), 'INVALID');
      await expectStoreError(
        store.blobs.putChunk('blob-1', 2, paddedCt(2 + BLOB_CHUNK_OVERHEAD_BYTES + 1, 1)),
        'INVALID',
      );
      // Stored chunks are sealed: up to the sealing overhead beyond the plaintext size fits.
      await store.blobs.putChunk('blob-1', 1, paddedCt(4 + BLOB_CHUNK_OVERHEAD_BYTES, 5));
      expect(await store.blobs.chunkIndexes('blob-1')).toEqual([0, 1, 2]);
      await store.blobs.putChunk('blob-1', 0, paddedCt(4, 1));
      await expectStoreError(store.blobs.putChunk('blob-1', 0, paddedCt(4, 9)), 'ALREADY_EXISTS');
      expectBytes(await store.blobs.getChunk('blob-1', 0), paddedCt(4, 1));
      expectBytes(await store.blobs.getChunk('blob-1', 1), paddedCt(4 + BLOB_CHUNK_OVERHEAD_BYTES, 5));
      expectBytes(await store.blobs.getChunk('blob-1', 2), paddedCt(2, 3));
      expect(await store.blobs.chunkIndexes('blob-none')).toEqual([]);
    });

    it('quota: a new manifest is stored only within the account quota, counted from what its devices created', async () => {
      await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
      await store.devices.put(makeDevice('dev-q2', 'acc-q'));
      await store.accounts.register(makeAccount('acc-r'), makeDevice('dev-r1', 'acc-r'));
      const one = blobQuotaBytes(manifest);
      const quota = { accountId: 'acc-q', maxBytes: 2 * one };
      const blob = (blobId: string, createdBy: string): BlobManifest => ({
        ...manifest,
        blobId,
        createdBy,
      });
      expect(await store.blobs.usage('acc-q')).toBe(0);

      await store.blobs.putManifest(blob('q-1', 'dev-q1'), { quota });
      // Exactly filling the quota is within it; another device of the account draws on the same room.
      await store.blobs.putManifest(blob('q-2', 'dev-q2'), { quota });
      expect(await store.blobs.usage('acc-q')).toBe(2 * one);
      const refused = await catchError(store.blobs.putManifest(blob('q-3', 'dev-q1'), { quota }));
      expect(isStoreError(refused, 'QUOTA_EXCEEDED')).toBe(true);
      expect((refused as StoreError).details).toEqual({
        usedBytes: 2 * one,
        requestedBytes: one,
        quotaBytes: 2 * one,
      });
      expect(await store.blobs.getManifest('q-3')).toBeNull();
      await expectStoreError(store.blobs.putChunk('q-3', 0, paddedCt(4, 1)), 'NOT_FOUND');
      expect(await store.blobs.usage('acc-q')).toBe(2 * one);

      // Re-announcing a stored manifest reserves nothing new: never refused, whoever is full.
      await store.blobs.putManifest(blob('q-1', 'dev-q1'), { quota });
      await store.blobs.putManifest(blob('q-1', 'dev-r1'), { quota: { accountId: 'acc-r', maxBytes: 1 } });
      // Revoked devices' blobs still count; other accounts have their own usage.
      await store.devices.revoke('dev-q2', isoAt(10), makeRevocation('dev-q2', isoAt(10)));
      expect(await store.blobs.usage('acc-q')).toBe(2 * one);
      expect(await store.blobs.usage('acc-r')).toBe(0);
      await store.blobs.putManifest(blob('r-1', 'dev-r1'), {
        quota: { accountId: 'acc-r', maxBytes: one },
      });
      expect(await store.blobs.usage('acc-r')).toBe(one);
      // Without a quota (tools, older callers) nothing is checked, but the manifest counts all the same.
      await store.blobs.putManifest(blob('q-4', 'dev-q1'));
      expect(await store.blobs.usage('acc-q')).toBe(3 * one);
    });

    it('quota: concurrent manifests of one account cannot both take the last room', async () => {
      await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
      const quota = { accountId: 'acc-q', maxBytes: blobQuotaBytes(manifest) };
      const settled = await Promise.allSettled(
        ['c-1', 'c-2', 'c-3'].map((blobId) =>
          store.blobs.putManifest({ ...manifest, blobId, createdBy: 'dev-q1' }, { quota }),
        ),
      );
      expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of settled) {
        if (r.status === 'rejected') expect(isStoreError(r.reason, 'QUOTA_EXCEEDED')).toBe(true);
      }
      expect(await store.blobs.usage('acc-q')).toBe(blobQuotaBytes(manifest));
    });

    it('an empty blob is one chunk', async () => {
      const empty = { ...manifest, blobId: 'blob-empty', size: 0, chunkCount: 1, digests: ['d0'] };
      await store.blobs.putManifest(empty);
      await expectStoreError(
        store.blobs.putManifest({ ...empty, blobId: 'blob-zero', chunkCount: 0, digests: [] }),
        'INVALID',
      );
      await store.blobs.putChunk('blob-empty', 0, paddedCt(60, 7));
      expect(await store.blobs.chunkIndexes('blob-empty')).toEqual([0]);
    });

    it('delete: manifest and chunks go, the quota is released, the id is never stored again', async () => {
      await store.accounts.register(makeAccount('acc-q'), makeDevice('dev-q1', 'acc-q'));
      const mine = { ...manifest, createdBy: 'dev-q1' };
      const quota = { accountId: 'acc-q', maxBytes: blobQuotaBytes(manifest) };
      await store.blobs.putManifest(mine, { quota });
      await store.blobs.putManifest({ ...mine, blobId: 'blob-other' });
      for (const id of ['blob-1', 'blob-other']) {
        await store.blobs.putChunk(id, 0, paddedCt(4, 1));
        await store.blobs.putChunk(id, 2, paddedCt(2, 3));
      }
      // Full: another blob does not fit.
      await expectStoreError(
        store.blobs.putManifest({ ...mine, blobId: 'blob-2' }, { quota: { ...quota, maxBytes: 0 } }),
        'QUOTA_EXCEEDED',
      );
      const deletion = { deletedBy: 'dev-x', deletedAt: isoAt(30) };
      expect(await store.blobs.delete('blob-1', deletion)).toStrictEqual({
        blobId: 'blob-1',
        stream: 'p/document',
        ...deletion,
      });
      expect(await store.blobs.getManifest('blob-1')).toBeNull();
      expect(await store.blobs.getChunk('blob-1', 0)).toBeNull();
      expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
      expect(await store.blobs.getTombstone('blob-1')).toStrictEqual({
        blobId: 'blob-1',
        stream: 'p/document',
        ...deletion,
      });
      // Only the other blob (stored without a quota) still counts.
      expect(await store.blobs.usage('acc-q')).toBe(blobQuotaBytes(manifest));
      await store.blobs.delete('blob-other', deletion);
      expect(await store.blobs.usage('acc-q')).toBe(0);
      await store.blobs.putManifest({ ...mine, blobId: 'blob-2' }, { quota });

      // Deleting again finds nothing; nothing of the tombstone changes.
      await expectStoreError(
        store.blobs.delete('blob-1', { ...deletion, deletedAt: isoAt(40) }),
        'NOT_FOUND',
      );
      await expectStoreError(store.blobs.delete('blob-none', deletion), 'NOT_FOUND');
      expect((await store.blobs.getTombstone('blob-1'))?.deletedAt).toBe(isoAt(30));
      expect(await store.blobs.getTombstone('blob-none')).toBeNull();

      // The id is gone for good: not the same manifest, not another one, no chunk.
      for (const again of [mine, { ...mine, digests: ['x', 'y', 'z'] }]) {
        const refused = await catchError(store.blobs.putManifest(again, { quota }));
        expect(isStoreError(refused, 'DELETED')).toBe(true);
        expect((refused as StoreError).details).toEqual({ deletedAt: isoAt(30) });
      }
      await expectStoreError(store.blobs.putChunk('blob-1', 0, paddedCt(4, 1)), 'NOT_FOUND');
      expect(await store.blobs.getManifest('blob-1')).toBeNull();
    });

    it('delete: an upload that never finished is deleted too', async () => {
      await store.blobs.putManifest(manifest);
      await store.blobs.putChunk('blob-1', 1, paddedCt(4, 2));
      await store.blobs.delete('blob-1', { deletedBy: 'dev-1', deletedAt: isoAt(5) });
      expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
      expect(await store.blobs.getManifest('blob-1')).toBeNull();
    });

    it('delete: racing deletes and re-announcements end with the blob deleted, once', async () => {
      await store.blobs.putManifest(manifest);
      const deletion = { deletedBy: 'dev-1', deletedAt: isoAt(5) };
      const settled = await Promise.allSettled([
        store.blobs.delete('blob-1', deletion),
        store.blobs.putManifest(manifest),
        store.blobs.delete('blob-1', deletion),
        store.blobs.putManifest(manifest),
      ]);
      const deletes = [settled[0], settled[2]];
      expect(deletes.filter((r) => r?.status === 'fulfilled')).toHaveLength(1);
      for (const r of settled) {
        if (r.status === 'rejected') {
          expect(isStoreError(r.reason, 'NOT_FOUND') || isStoreError(r.reason, 'DELETED')).toBe(true);
        }
      }
      expect(await store.blobs.getManifest('blob-1')).toBeNull();
      await expectStoreError(store.blobs.putManifest(manifest), 'DELETED');
    });
  });

  // Writes that commit with an account of them: a blob chunk or deletion with the access entries it
  // carries (types.ts AccessEntries), and a writeDocs row the writer counted out (`expectRefused`).
  // Both commit in one transaction with what they carry, or nothing does.
  describe('writes committed with their account', () => {
    let committed: StreamHead[][];
    beforeEach(() => {
      committed = [];
      store.onCommitted((heads) => committed.push(heads));
    });
    const loggedManifest = BLOB_MANIFEST;
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
        await store.blobs.putManifest(loggedManifest);
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
        expect(await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, entries(1)))).toBe(
          'CONFLICT',
        );
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
        expect(tombstone).toEqual({ blobId: 'blob-1', stream: loggedManifest.stream, ...deletion });
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
        expect(
          await codeOf(store.blobs.putChunk('blob-1', 0, chunk(1), undefined, { rows: [], now: '' })),
        ).toBe('INVALID');
        expect(await store.blobs.chunkIndexes('blob-1')).toEqual([]);
      });
    });

    describe('writeDocs rows marked expectRefused', () => {
      it('refused as expected: the batch is written and answered as without the mark', async () => {
        await store.docs.writeDocs(
          [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
          isoAt(1),
        );
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
        await store.docs.writeDocs(
          [{ doc: makeDocInput('p/allergy', 'a', '1-a'), assumedRev: null }],
          isoAt(1),
        );
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
  });
};
