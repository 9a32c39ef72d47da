/*
 * Conformance suite for `SyncStore` implementations: declares Vitest tests that check the contract in
 * types.ts through the interface only (no backend specifics), so SQLite and CouchDB pass the same tests.
 * Call it from an implementation's `*.test.ts`. Each test gets a fresh, empty store from `makeStore`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeAvailabilityConformance } from './availability-conformance';
import { describeEraseConformance } from './erase-conformance';
import { describeHeadsConformance } from './heads-conformance';
import { describeShlConformance, describeShlSharedConformance } from './shl-conformance';
import { describeAccountsConformance } from './accounts-conformance';
import { describeGrantsConformance } from './grants-conformance';
import { describeDocsConformance } from './docs-conformance';
import { describeKeysAndBlobsConformance } from './blobs-conformance';
import { describeServerConformance, describeServerStateConformance } from './server-conformance';
import type { StreamHead, SyncStore } from './types';
import {
  isoAt,
  makeAccount,
  makeDevice,
  makeDocInput,
  okSeq,
  waitFor,
  type ConformanceOptions,
  type StoreHandle,
} from './conformance.test-util';

export * from './conformance.test-util';

export const runStoreConformance = (
  name: string,
  makeStore: () => Promise<StoreHandle>,
  options: ConformanceOptions = {},
): void => {
  describe(`SyncStore conformance: ${name}`, () => {
    let store: SyncStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
      await store.init();
    });
    afterEach(async () => {
      await cleanup();
    });

    describeAccountsConformance(() => store);
    describeGrantsConformance(() => store);
    describeDocsConformance(() => store);
    describeKeysAndBlobsConformance(() => store);
    describeServerConformance(() => store);
    describeHeadsConformance(() => store, isoAt(5));
    describeShlConformance(() => store);
    describeAvailabilityConformance(() => store);

    describeEraseConformance(() => store);

    describeServerStateConformance(() => store);
  });

  const { makeSharedPair } = options;
  if (makeSharedPair !== undefined) {
    describe(`SyncStore conformance (shared backend): ${name}`, () => {
      it('instances sharing a backend allocate gap-free seqs and see each other', async () => {
        const { stores, cleanup } = await makeSharedPair();
        try {
          const [a, b] = stores;
          const S = 'pat/lab-result';
          const heardByB: StreamHead[][] = [];
          b.onCommitted((heads) => heardByB.push(heads));
          const writes = Array.from({ length: 16 }, (_, i) =>
            (i % 2 === 0 ? a : b).docs.writeDocs(
              Array.from({ length: 5 }, (_, j) => ({
                doc: makeDocInput(S, `d-${i}-${j}`, '1-x'),
                assumedRev: null,
              })),
              isoAt(1),
            ),
          );
          const seqs = (await Promise.all(writes)).flat().map(okSeq);
          expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
          for (const s of [a, b]) {
            const page = await s.docs.readDocs(S, 0, 1000, 10_000_000);
            expect(page.docs.map((d) => d.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
          }
          // B hears commits made through A too (possibly coalesced): eventually head 80.
          await waitFor(() => heardByB.some((heads) => heads.some((h) => h.stream === S && h.head === 80)));

          // Compare-and-set holds across instances: only one of two racing updates wins.
          const [ra, rb] = await Promise.all([
            a.docs.writeDocs([{ doc: makeDocInput(S, 'd-0-0', '2-a'), assumedRev: '1-x' }], isoAt(2)),
            b.docs.writeDocs([{ doc: makeDocInput(S, 'd-0-0', '2-b'), assumedRev: '1-x' }], isoAt(2)),
          ]);
          expect([ra?.[0]?.status, rb?.[0]?.status].sort()).toEqual(['conflict', 'ok']);
        } finally {
          await cleanup();
        }
      });

      it('an invite written through one instance admits exactly one registration across both', async () => {
        const { stores, cleanup } = await makeSharedPair();
        try {
          const [a, b] = stores;
          const codeHash = 'ab'.repeat(32);
          await b.invites.put({ codeHash, uses: 1, usesLeft: 1, expiresAt: isoAt(100), createdAt: isoAt(0) });
          const settled = await Promise.allSettled(
            [a, b, a, b].map((s, n) =>
              s.accounts.register(makeAccount(`acc-${n}`), makeDevice(`dev-${n}`, `acc-${n}`), {
                invite: { codeHash, now: isoAt(1) },
              }),
            ),
          );
          expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          expect((await a.invites.list())[0]?.usesLeft).toBe(0);
        } finally {
          await cleanup();
        }
      });

      describeShlSharedConformance(makeSharedPair);
    });
  }
};
