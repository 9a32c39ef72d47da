// An offload's `minBatch`: the fewest items of a batch the codec and the at-rest wrapper send to it
// (OFFLOAD_MIN_BATCH when it names none), so tests can run small batches on a worker too.
import { describe, expect, it } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { OFFLOAD_MIN_BATCH, offloadMinBatch, type CryptoOffload } from './crypto-offload';
import { runCryptoJob } from './run-crypto-job';
import { createWorkerOffload } from './worker-offload';
import { idlePort, secretDoc, secretSchema, type SecretDoc } from './offload.test-util';
import { asServed, idOf, inputsOf, patientDeps, record } from '../sync/codec-fixture.test-util';
import { decodeRecords, encodeRecords } from '../sync/record-codec';
import { wrapWithAtRestEncryption } from '../store/at-rest-encryption';
import { insertAll, openInstance } from '../store/at-rest.test-util';

/** Runs every job in this thread, as a worker would, and keeps `op:items` of each. */
const inThread = (minBatch?: number) => {
  const jobs: string[] = [];
  const offload: CryptoOffload = {
    ...(minBatch === undefined ? {} : { minBatch }),
    run: (job) => {
      jobs.push(`${job.op}:${job.items.length}`);
      return Promise.resolve(runCryptoJob(job));
    },
  };
  return { jobs, offload };
};

describe('minBatch of an offload', () => {
  it('is OFFLOAD_MIN_BATCH (8) unless the offload names one', () => {
    expect(OFFLOAD_MIN_BATCH).toBe(8);
    expect(offloadMinBatch(inThread().offload)).toBe(8);
    expect(offloadMinBatch(inThread(1).offload)).toBe(1);
    expect(createWorkerOffload(idlePort).minBatch).toBe(8);
    expect(createWorkerOffload(idlePort, { minBatch: 1 }).minBatch).toBe(1);
  });

  it('createWorkerOffload refuses a minBatch that is not a positive integer, before starting a worker', () => {
    let spawned = 0;
    for (const minBatch of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => createWorkerOffload(() => (spawned++, idlePort()), { minBatch })).toThrow(RangeError);
    }
    expect(spawned).toBe(0);
  });

  it('the codec sends a one-record batch to an offload whose minBatch is 1, and keeps it without', async () => {
    const rs = [record({ id: idOf(1) })];
    const one = inThread(1);
    const deps = { ...patientDeps, offload: one.offload };
    const docs = await encodeRecords(deps, await inputsOf(deps, rs));
    expect(await decodeRecords(deps, asServed(docs))).toEqual([{ ok: true, record: rs[0] }]);
    expect(one.jobs).toEqual(['wireSeal:1', 'wireOpen:1']);

    const byDefault = inThread();
    const plain = { ...patientDeps, offload: byDefault.offload };
    await decodeRecords(plain, asServed(await encodeRecords(plain, await inputsOf(plain, rs))));
    expect(byDefault.jobs).toEqual([]);
  });

  it('the at-rest wrapper sends batches of minBatch items or more, and seals smaller ones itself', async () => {
    const doc = (id: string) => secretDoc(id, { note: `note ${id}` });
    const { jobs, offload } = inThread(3);
    const storage = wrapWithAtRestEncryption({
      storage: getRxStorageMemory(),
      key: new Uint8Array(32).fill(9),
      offload,
    });
    const instance = await openInstance<SecretDoc>(storage, 'min-batch', secretSchema());
    expect((await insertAll(instance, [doc('a'), doc('b')])).error).toEqual([]);
    expect(jobs).toEqual([]);
    expect((await insertAll(instance, [doc('c'), doc('d'), doc('e')])).error).toEqual([]);
    expect(jobs).toEqual(['seal:3']);
  });
});
