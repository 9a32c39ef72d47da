/*
 * Conformance suite for the access guard (types.ts AccessGuard) of `SyncStore` implementations: every store
 * write that takes a guard (`docs.writeDocs`, `blobs.putManifest`, `blobs.putChunk`, `blobs.delete`) must
 * run its check before it writes anything, in the write's own atomic step, with the grants unended at the
 * guard's `at` that its grantee received from its patients, read then. The sync service relies on it to
 * decide access again at the write (sync-service.ts `accessGuard`): a store that read the grants earlier,
 * or wrote before the check, would let a revoked or ended grant write. Through the interface only, as
 * conformance.ts; call it from an implementation's `*.test.ts`. Each test gets a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isoAt,
  makeAccount,
  makeDocInput,
  makeRevocation,
  type ConformanceOptions,
  type StoreHandle,
} from './conformance.test-util';
import {
  isStoreError,
  type AccessGuard,
  type BlobManifest,
  type DocWrite,
  type Grant,
  type StreamHead,
  type SyncStore,
} from './types';

/** What a refusing check throws: the caller's own error, which must reach it unchanged. */
class Refused extends Error {
  constructor() {
    super('access ended');
    this.name = 'Refused';
  }
}

/** The guards' decisions are made at this time. */
const AT = isoAt(100);

const grant = (grantId: string, patientId: string, granteeId: string, extra: Partial<Grant> = {}): Grant => ({
  grantId,
  patientId,
  granteeId,
  scope: [
    { type: 'allergy', access: 'write' },
    { type: 'document', access: 'write' },
  ],
  start: isoAt(0),
  expiresAt: isoAt(1000),
  issuedAt: isoAt(1),
  signed: { body: { grantId }, sig: 'sig' },
  ...extra,
});

const manifest: BlobManifest = {
  blobId: 'blob-1',
  stream: 'pat/document',
  size: 6,
  chunkSize: 4,
  chunkCount: 2,
  digests: ['d0', 'd1'],
  createdBy: 'dev-prov',
  createdAt: isoAt(2),
};

const rows = (): DocWrite[] => [
  { doc: makeDocInput('pat/allergy', 'a1', '1-a', { author: 'dev-prov' }), assumedRev: null },
  { doc: makeDocInput('pat/allergy', 'a2', '1-b', { author: 'dev-prov' }), assumedRev: null },
  { doc: makeDocInput('pat/document', 'd1', '1-c', { author: 'dev-prov' }), assumedRev: null },
];

/** A guard of grantee `prov` on patient `pat`'s streams whose check is `check`. */
const guardOf = (check: (grants: Grant[]) => void, patientIds: readonly string[] = ['pat']): AccessGuard => ({
  granteeId: 'prov',
  patientIds,
  at: AT,
  check,
});

/** A guard that lets the write through only while grant `grantId` is among the grants it is given. */
const needs = (grantId: string): AccessGuard =>
  guardOf((grants) => {
    if (!grants.some((g) => g.grantId === grantId)) throw new Refused();
  });

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the write to reject');
};

/** One store write that takes a guard: what it needs stored first, and what it leaves stored. */
interface GuardedWrite {
  name: string;
  prepare(store: SyncStore): Promise<void>;
  write(store: SyncStore, guard: AccessGuard): Promise<unknown>;
  /** What the store holds of it: equal before a refused write and after, different after a written one. */
  state(store: SyncStore): Promise<unknown>;
}

const chunk = (fill: number, length = 4): Uint8Array => new Uint8Array(length).fill(fill);

const WRITES: readonly GuardedWrite[] = [
  {
    name: 'docs.writeDocs',
    prepare: async () => undefined,
    write: (store, guard) => store.docs.writeDocs(rows(), AT, undefined, guard),
    state: async (store) => ({
      heads: await store.docs.streamHeads(['pat/allergy', 'pat/document']),
      docs: await Promise.all(rows().map((r) => store.docs.getDoc(r.doc.stream, r.doc.id))),
    }),
  },
  {
    name: 'blobs.putManifest',
    prepare: async () => undefined,
    write: (store, guard) =>
      store.blobs.putManifest(manifest, { quota: { accountId: 'prov', maxBytes: 1 << 20 }, guard }),
    state: async (store) => ({
      manifest: await store.blobs.getManifest(manifest.blobId),
      usage: await store.blobs.usage('prov'),
    }),
  },
  {
    name: 'blobs.putChunk',
    prepare: (store) => store.blobs.putManifest(manifest),
    write: (store, guard) => store.blobs.putChunk(manifest.blobId, 0, chunk(7), guard),
    state: async (store) => ({
      indexes: await store.blobs.chunkIndexes(manifest.blobId),
      bytes: Array.from((await store.blobs.getChunk(manifest.blobId, 0)) ?? []),
    }),
  },
  {
    name: 'blobs.delete',
    prepare: async (store) => {
      await store.blobs.putManifest(manifest);
      await store.blobs.putChunk(manifest.blobId, 0, chunk(7));
      await store.blobs.putChunk(manifest.blobId, 1, chunk(8, 2));
    },
    write: (store, guard) =>
      store.blobs.delete(manifest.blobId, { deletedBy: 'dev-prov', deletedAt: AT }, guard),
    state: async (store) => ({
      manifest: await store.blobs.getManifest(manifest.blobId),
      indexes: await store.blobs.chunkIndexes(manifest.blobId),
      tombstone: await store.blobs.getTombstone(manifest.blobId),
      usage: await store.blobs.usage('prov'),
    }),
  },
];

export const runAccessGuardConformance = (
  name: string,
  makeStore: () => Promise<StoreHandle>,
  options: ConformanceOptions = {},
): void => {
  describe(`SyncStore access guard conformance: ${name}`, () => {
    let store: SyncStore;
    let cleanup: () => Promise<void>;
    /** Heads the store announced as committed since the test began. */
    let committed: StreamHead[][];

    /** Accounts, the device `dev-prov` of `prov`, and grant `g1` from `pat` to `prov`. */
    const seed = async (s: SyncStore): Promise<void> => {
      for (const id of ['pat', 'pat-2', 'prov', 'prov-2']) {
        await s.accounts.put(makeAccount(id, id.startsWith('prov') ? { role: 'provider' } : {}));
      }
      await s.devices.put({
        deviceId: 'dev-prov',
        accountId: 'prov',
        cert: { account: 'prov', device: 'dev-prov' },
        devicePublicKey: 'dpk-prov',
        createdAt: isoAt(1),
      });
      await s.grants.put(grant('g1', 'pat', 'prov'));
    };

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.init();
      await seed(store);
      committed = [];
      store.onCommitted((heads) => committed.push(heads));
    });
    afterEach(async () => {
      await cleanup();
    });

    for (const w of WRITES) {
      describe(w.name, () => {
        beforeEach(async () => {
          await w.prepare(store);
          committed = [];
        });

        it('a guard whose check passes lets it write (what the other cases compare with)', async () => {
          const before = await w.state(store);
          await w.write(store, needs('g1'));
          expect(await w.state(store)).not.toStrictEqual(before);
        });

        it('a guard that refuses stops the write: it rejects with the refusal and nothing is stored', async () => {
          const before = await w.state(store);
          const refusal = await rejection(
            w.write(
              store,
              guardOf(() => {
                throw new Refused();
              }),
            ),
          );
          expect(refusal).toBeInstanceOf(Refused);
          expect(await w.state(store)).toStrictEqual(before);
          expect(committed).toStrictEqual([]);
        });

        it("a guard naming its writer is told, in the write's step, whether that device is revoked", async () => {
          const seen: boolean[] = [];
          const refusing: AccessGuard = {
            ...needs('g1'),
            writer: 'dev-prov',
            check: (_grants, writerRevoked) => {
              seen.push(writerRevoked);
              if (writerRevoked) throw new Refused();
            },
          };
          // Revoked after the guard was made, before the write runs: the write sees it and stores nothing.
          await store.devices.revoke('dev-prov', isoAt(50), makeRevocation('dev-prov', isoAt(50)));
          const before = await w.state(store);
          expect(await rejection(w.write(store, refusing))).toBeInstanceOf(Refused);
          expect(await w.state(store)).toStrictEqual(before);
          expect(committed).toStrictEqual([]);
          // A device the store holds no registration of, and a guard naming no writer, are not revoked.
          await w.write(store, { ...refusing, writer: 'dev-unknown' });
          expect(seen).toStrictEqual([true, false]);
        });

        it('what a check throws reaches the caller as it was thrown (not a StoreError), the store unchanged', async () => {
          const before = await w.state(store);
          const thrown = Object.assign(new TypeError('the check failed'), { code: 'CHECK_FAILED' });
          const error = await rejection(
            w.write(
              store,
              guardOf(() => {
                throw thrown;
              }),
            ),
          );
          expect(error).toBe(thrown);
          expect(isStoreError(error)).toBe(false);
          expect(await w.state(store)).toStrictEqual(before);
          // The store is still usable: the same write with a passing guard goes through.
          await w.write(store, needs('g1'));
          expect(await w.state(store)).not.toStrictEqual(before);
        });

        it('the check runs once, before the write, with the grants read when the write runs', async () => {
          // Made while g1 is unended; g1 is revoked after the guard was made and before the write is called.
          let calls = 0;
          const guard = needs('g1');
          const counted: AccessGuard = {
            ...guard,
            check: (grants, writerRevoked) => {
              calls++;
              guard.check(grants, writerRevoked);
            },
          };
          await store.grants.revoke('g1', isoAt(50), { revoked: true });
          const before = await w.state(store);
          expect(await rejection(w.write(store, counted))).toBeInstanceOf(Refused);
          expect(calls).toBe(1);
          expect(await w.state(store)).toStrictEqual(before);
          // And a grant stored after the guard was made is among them.
          await store.grants.put(grant('g2', 'pat', 'prov', { issuedAt: isoAt(60) }));
          await w.write(store, needs('g2'));
          expect(await w.state(store)).not.toStrictEqual(before);
        });
      });
    }

    describe('the grants a check is given', () => {
      it("are the grantee's unended grants at `at` from the guard's patients, and nothing else", async () => {
        await store.grants.put(grant('g-other-patient', 'pat-2', 'prov'));
        await store.grants.put(grant('g-other-grantee', 'pat', 'prov-2'));
        await store.grants.put(grant('g-expired', 'pat', 'prov', { expiresAt: AT }));
        await store.grants.put(grant('g-not-started', 'pat', 'prov', { start: isoAt(101) }));
        await store.grants.put(grant('g-revoked', 'pat', 'prov'));
        await store.grants.revoke('g-revoked', isoAt(50), { revoked: true });
        await store.grants.put(grant('g-revoked-later', 'pat', 'prov'));
        await store.grants.revoke('g-revoked-later', isoAt(150), { revoked: true });
        const seen: string[][] = [];
        const seeing = (patientIds: readonly string[]) =>
          guardOf((grants) => void seen.push(grants.map((g) => g.grantId).sort()), patientIds);

        await store.docs.writeDocs(rows().slice(0, 1), AT, undefined, seeing(['pat']));
        await store.docs.writeDocs(rows().slice(1, 2), AT, undefined, seeing(['pat', 'pat-2', 'pat']));
        await store.docs.writeDocs(rows().slice(2, 3), AT, undefined, seeing([]));
        // As `listUnendedFrom` answers at `at`: what a decision at that time reads.
        const listed = async (patientIds: string[]) =>
          (await store.grants.listUnendedFrom('prov', patientIds, AT)).map((g) => g.grantId).sort();
        expect(seen).toStrictEqual([await listed(['pat']), await listed(['pat', 'pat-2']), []]);
        // Not started yet is still unended (a decision refuses it by its start); a revoked grant is ended
        // whatever time its revocation names, an expired one from its `expiresAt` on.
        expect(seen[0]).toStrictEqual(['g-not-started', 'g1']);
      });

      it('a check that refuses on a batch whose rows would also fail answers the refusal: it runs first', async () => {
        await store.docs.writeDocs(rows(), AT);
        committed = [];
        // Each row now conflicts (assumedRev null on stored documents); the refusal still comes first.
        const refusal = await rejection(
          store.docs.writeDocs(
            rows(),
            AT,
            undefined,
            guardOf(() => {
              throw new Refused();
            }),
          ),
        );
        expect(refusal).toBeInstanceOf(Refused);
        expect(committed).toStrictEqual([]);
      });
    });

    const { makeSharedPair } = options;
    if (makeSharedPair !== undefined) {
      describe('across instances sharing a backend', () => {
        for (const w of WRITES) {
          it(`${w.name}: a revocation committed through the other instance before the write refuses it`, async () => {
            const { stores, cleanup: close } = await makeSharedPair();
            try {
              const [a, b] = stores;
              await a.init();
              await b.init();
              await seed(a);
              await w.prepare(a);
              const guard = needs('g1');
              // Committed through b after the guard was made, before a's write is called.
              await b.grants.revoke('g1', isoAt(50), { revoked: true });
              const before = await w.state(a);
              expect(await rejection(w.write(a, guard))).toBeInstanceOf(Refused);
              expect(await w.state(a)).toStrictEqual(before);
              expect(await w.state(b)).toStrictEqual(before);
            } finally {
              await close();
            }
          });
        }
      });
    }
  });
};
