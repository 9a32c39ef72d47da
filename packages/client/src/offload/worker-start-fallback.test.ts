// A worker that can never start (a bad URL, a CSP that forbids workers, an entry that throws as it
// loads, one that never says a word) must not fail the device's bulk cryptography for good: the jobs
// it owed run on this thread, and after WORKER_START_FAILURE_LIMIT such workers in a row the offload
// stops starting them, runs every job here and reports it once, typed. A worker that did start and then
// died or stopped answering is no reason to: its jobs fail and the crash loop stands, as before.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { createNodeCryptoOffload } from '../../node/crypto-worker';
import { wrapWithAtRestEncryption } from '../store/at-rest-encryption';
import { insertAll, openInstance } from '../store/at-rest.test-util';
import { CRYPTO_WORKER_READY, type CryptoJobResult } from './crypto-offload';
import {
  answeringPort,
  idlePort,
  sealJob,
  secretDoc,
  secretSchema,
  type SecretDoc,
} from './offload.test-util';
import {
  WORKER_DEATH_LIMIT,
  WORKER_START_FAILURE_LIMIT,
  createWorkerOffload,
  isCryptoOffloadError,
  jobTimeoutMs,
  type CryptoOffloadError,
  type WorkerEvents,
  type WorkerOffload,
  type WorkerPort,
} from './worker-offload';

/** How many of a seal result's items were sealed (each answered as this thread answers it). */
const sealedCount = (result: CryptoJobResult): number =>
  result.op === 'seal'
    ? result.envelopes.filter((e) => e !== null && e.envelope.startsWith('v1.')).length
    : -1;

/** Runs `jobs` seal jobs one after another; answers how many were answered and the errors of the others. */
const runMany = async (offload: WorkerOffload, jobs: number) => {
  let answered = 0;
  const errors: string[] = [];
  for (let n = 0; n < jobs; n++) {
    await offload.run(sealJob(3)).then(
      (result) => void (answered += sealedCount(result) === 3 ? 1 : 0),
      (error: unknown) => void errors.push(error instanceof Error ? error.message : String(error)),
    );
  }
  return { answered, errors };
};

/** Every report of `onFallback`. */
const reports = () => {
  const seen: CryptoOffloadError[] = [];
  return { seen, onFallback: (error: CryptoOffloadError) => void seen.push(error) };
};

describe('a crypto worker that cannot start', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('that errors as it starts (a bad URL, an entry that throws): jobs are answered here, reported once', async () => {
    let spawned = 0;
    const { seen, onFallback } = reports();
    const offload = createWorkerOffload(
      (events) => {
        spawned++;
        // What a Web Worker whose script is missing or throws at load reports: an error event, no exit.
        queueMicrotask(() => events.died(new Error('the crypto Web Worker failed')));
        return idlePort();
      },
      { onFallback },
    );
    const { answered, errors } = await runMany(offload, 10);
    expect({ answered, errors }).toEqual({ answered: 10, errors: [] });
    expect(spawned).toBe(WORKER_START_FAILURE_LIMIT);
    expect(seen).toHaveLength(1);
    expect(isCryptoOffloadError(seen[0]) && seen[0].code).toBe('WORKER_UNAVAILABLE');
    expect(seen[0]?.message).toBe(
      `crypto worker could not start (${WORKER_START_FAILURE_LIMIT} workers in a row; the last: the crypto ` +
        'Web Worker failed); jobs run on the calling thread from now on',
    );
    expect(offload.fallback()).toBe(seen[0]);
    await offload.close();
    await expect(offload.run(sealJob())).rejects.toThrow('crypto offload is closed');
  });

  it('that cannot even be created (a CSP that forbids workers): creating the offload does not throw', async () => {
    let spawned = 0;
    const { seen, onFallback } = reports();
    const offload = createWorkerOffload(
      () => {
        spawned++;
        throw new DOMException('Failed to construct Worker: blocked by CSP of https://x', 'SecurityError');
      },
      { onFallback },
    );
    const { answered, errors } = await runMany(offload, 5);
    expect({ answered, errors }).toEqual({ answered: 5, errors: [] });
    expect(spawned).toBe(WORKER_START_FAILURE_LIMIT);
    expect(seen.map((e) => e.message)).toEqual([
      `crypto worker could not start (${WORKER_START_FAILURE_LIMIT} workers in a row; the last: the host ` +
        'could not create it (SecurityError)); jobs run on the calling thread from now on',
    ]);
    await offload.close();
  });

  it('that never answers nor says it is ready: its jobs run here at their budget, then at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let spawned = 0;
    const { seen, onFallback } = reports();
    const offload = createWorkerOffload(() => (spawned++, idlePort()), { onFallback });
    for (let n = 0; n < WORKER_START_FAILURE_LIMIT; n++) {
      let result: CryptoJobResult | undefined;
      void offload.run(sealJob(2)).then((r) => (result = r));
      await vi.advanceTimersByTimeAsync(jobTimeoutMs(2) - 1);
      expect(result).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);
      expect(result && sealedCount(result)).toBe(2);
    }
    expect(seen).toHaveLength(1);
    expect(seen[0]?.message).toMatch(/the last: crypto worker did not answer a seal job of 2 items within/);
    // From now on no worker is started and nothing waits for a budget.
    const later = await offload.run(sealJob(4));
    expect(sealedCount(later)).toBe(4);
    expect(spawned).toBe(WORKER_START_FAILURE_LIMIT);
    expect(seen).toHaveLength(1);
    await offload.close();
  });

  it('fails a job that fails here as it fails on a worker (typed, same code and message)', async () => {
    const offload = createWorkerOffload(() => {
      throw new Error('no workers here');
    });
    const job = sealJob();
    if (job.op !== 'seal') throw new Error('a seal job');
    await expect(offload.run({ ...job, key: new Uint8Array(31) })).rejects.toMatchObject({
      name: 'AtRestError',
      code: 'AT_REST_INVALID_KEY',
      message: 'at-rest key must be 32 bytes',
    });
    await offload.close();
  });

  it('that fails once among workers that start is no reason to stop starting them', async () => {
    let spawned = 0;
    const { seen, onFallback } = reports();
    const workers: WorkerEvents[] = [];
    const offload = createWorkerOffload(
      (events) => {
        spawned++;
        // Every other worker cannot be created (a passing shortage of threads).
        if (spawned % 2 === 1) throw new RangeError('out of threads');
        workers.push(events);
        queueMicrotask(() => events.message(CRYPTO_WORKER_READY));
        return answeringPort(events);
      },
      { onFallback },
    );
    for (let n = 0; n < WORKER_START_FAILURE_LIMIT * 2; n++) {
      expect(sealedCount(await offload.run(sealJob()))).toBe(1);
      // The worker that started dies: the next run starts another, which cannot be created.
      await Promise.resolve();
      workers.at(-1)?.died(new Error('worker crashed'));
    }
    expect(seen).toEqual([]);
    expect(offload.fallback()).toBeNull();
    await offload.close();
  });
});

describe('a crypto worker that started', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Workers that say they are ready, then die on their first job. */
  const dyingHost = () => {
    let spawned = 0;
    const spawn = (events: WorkerEvents): WorkerPort => {
      spawned++;
      queueMicrotask(() => events.message(CRYPTO_WORKER_READY));
      return {
        post: () => setTimeout(() => events.died(new Error('crypto worker exited with code 7')), 0),
        terminate: () => undefined,
      };
    };
    return { spawn, spawned: () => spawned };
  };

  it('and then dies on its jobs fails them, and more deaths are a crash loop, not a fallback', async () => {
    const host = dyingHost();
    const { seen, onFallback } = reports();
    const offload = createWorkerOffload(host.spawn, { onFallback, monotonicNow: () => 0 });
    for (let n = 0; n <= WORKER_DEATH_LIMIT; n++) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      await expect(offload.run(sealJob())).rejects.toThrow('crypto worker exited with code 7');
    }
    await expect(offload.run(sealJob())).rejects.toThrow(/crash loop/);
    expect(seen).toEqual([]);
    expect(offload.fallback()).toBeNull();
    await offload.close();
  });

  it('and then stops answering fails its jobs at their budget, and is replaced, not fallen back from', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let spawned = 0;
    const { seen, onFallback } = reports();
    const offload = createWorkerOffload(
      (events) => {
        spawned++;
        queueMicrotask(() => events.message(CRYPTO_WORKER_READY));
        return idlePort();
      },
      { onFallback },
    );
    for (let n = 0; n < WORKER_START_FAILURE_LIMIT; n++) {
      await vi.advanceTimersByTimeAsync(0);
      const failed = expect(offload.run(sealJob())).rejects.toThrow(/did not answer a seal job/);
      await vi.advanceTimersByTimeAsync(jobTimeoutMs(1));
      await failed;
    }
    expect(spawned).toBe(WORKER_START_FAILURE_LIMIT);
    expect(seen).toEqual([]);
    await offload.close();
  });

  it('by answering a job, without saying it is ready (an entry of its own), is started too', async () => {
    const { seen, onFallback } = reports();
    const workers: WorkerEvents[] = [];
    const offload = createWorkerOffload(
      (events) => {
        workers.push(events);
        return answeringPort(events);
      },
      { onFallback },
    );
    for (let n = 0; n < WORKER_START_FAILURE_LIMIT; n++) {
      expect(sealedCount(await offload.run(sealJob()))).toBe(1);
      workers.at(-1)?.died(new Error('worker crashed'));
      // Dead while idle: started, so counted as a death, not as a failed start.
    }
    expect(seen).toEqual([]);
    await offload.close();
  });
});

describe('a Node crypto worker that cannot start', () => {
  for (const [what, workerUrl] of [
    ['a missing entry', new URL('./no-such-crypto-worker-entry.mjs', import.meta.url)],
    ['an entry that throws as it loads', new URL('data:text/javascript,throw new Error("entry failed")')],
  ] as const) {
    it(`(${what}): the device's at-rest writes and reads keep working, reported once`, async () => {
      const { seen, onFallback } = reports();
      const offload = createNodeCryptoOffload({ workerUrl, onFallback, minBatch: 1 });
      try {
        const storage = wrapWithAtRestEncryption({
          storage: getRxStorageMemory(),
          key: new Uint8Array(32).fill(9),
          offload,
        });
        const instance = await openInstance<SecretDoc>(
          storage,
          `fallback-${workerUrl.protocol.slice(0, -1)}`,
          secretSchema(),
        );
        for (let batch = 0; batch < 5; batch++) {
          const docs = Array.from({ length: 10 }, (_, i) =>
            secretDoc(`d${batch}-${i}`, { note: `note ${batch}-${i}` }),
          );
          expect((await insertAll(instance, docs)).error).toEqual([]);
        }
        const back = await instance.findDocumentsById(['d0-0', 'd4-9'], false);
        expect(back.map((d) => d.secret.note)).toEqual(['note 0-0', 'note 4-9']);
        expect(seen).toHaveLength(1);
        expect(seen[0]?.message).toMatch(
          /^crypto worker could not start \(3 workers in a row; the last: crypto worker (exited with code 1|threw outside a job \(Error\); it was replaced)\); jobs run on the calling thread from now on$/,
        );
        expect(seen[0]?.message).not.toContain('entry failed');
      } finally {
        await offload.close();
      }
    });
  }
});
