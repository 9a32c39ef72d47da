// `envelopes.putAll` is one transaction: a failure inside SQLite on any row (a disk error, here a trigger)
// leaves none of the batch stored. Validation failures are covered by the conformance suite; this is the
// failure that only the backend can raise, after earlier rows were already inserted.
import { expect, it } from 'vitest';
import { isoAt } from './conformance';
import { openSqliteStore } from './sqlite-store';
import { isStoreError } from './types';
import { useTempDirs } from './temp-dirs.test-util';

const newDir = useTempDirs('hale-envelope-batch-');

const env = (recipient: string) => ({
  stream: 'pat/allergy',
  epoch: 1,
  recipient,
  keyId: 'k-1',
  wrapped: `w-${recipient}`,
  createdBy: 'dev-1',
  createdAt: isoAt(1),
});

it('a batch failing inside SQLite on its second envelope stores none of them', async () => {
  const store = await openSqliteStore({ dataDir: newDir(), onListenerError: () => undefined });
  try {
    store.db.exec(`CREATE TEMP TRIGGER boom BEFORE INSERT ON main.envelopes WHEN NEW.recipient = 'pat'
      BEGIN SELECT RAISE(ABORT, 'boom'); END`);
    const error = await store.envelopes.putAll([env('doc'), env('pat')]).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isStoreError(error, 'INTERNAL'), `expected StoreError INTERNAL, got ${String(error)}`).toBe(true);
    expect(await store.envelopes.list('doc')).toStrictEqual([]);
    expect(await store.envelopes.currentEpoch('pat/allergy')).toBeNull();

    store.db.exec('DROP TRIGGER temp.boom');
    expect(await store.envelopes.putAll([env('doc'), env('pat')])).toStrictEqual([
      { created: true },
      { created: true },
    ]);
    expect(await store.envelopes.currentEpoch('pat/allergy')).toBe(1);
  } finally {
    await store.close();
  }
});
