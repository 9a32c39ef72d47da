// The offload as a browser host drives it: a Web Worker reports no exit and has no ref/unref, so a
// worker that stops answering is ended by the job budget alone. The "worker" here says it is ready, as
// the shipped entries do, then answers on this thread through `runCryptoJob`, or stays silent; the clock
// is Vitest's fake `setTimeout`. Workers that never start: worker-start-fallback.test.ts.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CRYPTO_WORKER_READY, type CryptoJob } from './crypto-offload';
import { runCryptoJob } from './run-crypto-job';
import { sealJob, watch } from './offload.test-util';
import {
  WORKER_DEATH_LIMIT,
  createWorkerOffload,
  isCryptoOffloadError,
  jobTimeoutMs,
  type WorkerEvents,
} from './worker-offload';

/** Workers the offload started, in order: each answers unless told to stay silent. */
function browserLikeHost() {
  const workers: Array<{ silent: boolean; terminated: boolean; posted: number; events: WorkerEvents }> = [];
  let silentNext = false;
  const spawn = (events: WorkerEvents) => {
    const w = { silent: silentNext, terminated: false, posted: 0, events };
    workers.push(w);
    queueMicrotask(() => events.message(CRYPTO_WORKER_READY));
    return {
      post: (message: { id: number; job: CryptoJob }) => {
        w.posted++;
        if (w.silent || w.terminated) return;
        queueMicrotask(() => events.message({ id: message.id, result: runCryptoJob(message.job) }));
      },
      terminate: () => {
        w.terminated = true;
      },
    };
  };
  return { spawn, workers, silence: (silent: boolean) => (silentNext = silent) };
}

describe('createWorkerOffload with a host that reports no exit', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers jobs through the worker it started', async () => {
    const host = browserLikeHost();
    const offload = createWorkerOffload(host.spawn);
    const result = await offload.run(sealJob(3));
    expect(result.op).toBe('seal');
    expect(host.workers).toHaveLength(1);
    await offload.close();
    expect(host.workers[0]?.terminated).toBe(true);
    await expect(offload.run(sealJob())).rejects.toThrow('crypto offload is closed');
  });

  it('a worker that stops answering is ended at the budget and replaced by the next job', async () => {
    const host = browserLikeHost();
    host.silence(true);
    const offload = createWorkerOffload(host.spawn);
    const stuck = offload.run(sealJob(2));
    const failed = expect(stuck).rejects.toThrow(/did not answer a seal job of 2 items/);
    await vi.advanceTimersByTimeAsync(jobTimeoutMs(2) - 1);
    expect(host.workers[0]?.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await failed;
    expect(host.workers[0]?.terminated).toBe(true);

    host.silence(false);
    const result = await offload.run(sealJob());
    expect(result.op).toBe('seal');
    expect(host.workers).toHaveLength(2);
    await offload.close();
  });

  it("gives a job whose items are no list (a caller's bug) the base budget, not a timer of NaN ms", async () => {
    const host = browserLikeHost();
    host.silence(true);
    const offload = createWorkerOffload(host.spawn);
    await vi.advanceTimersByTimeAsync(0);
    const job = { op: 'open', key: new Uint8Array(32), items: { stored: 'x' } } as unknown as CryptoJob;
    const failed = watch(offload.run(job));
    await vi.advanceTimersByTimeAsync(jobTimeoutMs(0) - 1);
    expect(failed.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(failed.error instanceof Error && failed.error.message).toMatch(
      /did not answer an open job of 0 items/,
    );
    await offload.close();
  });

  it('stops restarting after more than WORKER_DEATH_LIMIT silent workers in a minute', async () => {
    const host = browserLikeHost();
    host.silence(true);
    const offload = createWorkerOffload(host.spawn, { monotonicNow: () => 0 });
    for (let i = 0; i <= WORKER_DEATH_LIMIT; i++) {
      const job = offload.run(sealJob());
      const failed = expect(job).rejects.toThrow(/did not answer/);
      await vi.advanceTimersByTimeAsync(jobTimeoutMs(1));
      await failed;
    }
    await expect(offload.run(sealJob())).rejects.toThrow(/crash loop/);
    expect(host.workers).toHaveLength(WORKER_DEATH_LIMIT + 1);
    await offload.close();
  });

  it('a worker reported dead while it starts runs that job here (it never started); the next run starts another', async () => {
    let first = true;
    const host = browserLikeHost();
    host.silence(true);
    const offload = createWorkerOffload(
      (events) => {
        const port = host.spawn(events);
        if (first) {
          first = false;
        } else if (host.workers.length === 2) {
          events.died(new Error('no script'));
        }
        return port;
      },
      { jobTimeout: { baseMs: 1000, perItemMs: 0 } },
    );
    host.silence(false);
    // The first worker dies after it started: its pending job fails at once, not at the budget.
    const pending = offload.run(sealJob());
    await vi.advanceTimersByTimeAsync(0);
    host.workers[0]?.events.died(new Error('worker crashed'));
    await expect(pending).rejects.toThrow('worker crashed');
    // It ran nothing, so its job runs on this thread: one failed start is no reason to stop starting them.
    expect((await offload.run(sealJob())).op).toBe('seal');
    expect(host.workers[1]?.terminated).toBe(true);
    expect(offload.fallback()).toBeNull();
    expect((await offload.run(sealJob())).op).toBe('seal');
    expect(host.workers).toHaveLength(3);
    await offload.close();
  });

  const UNREADABLE_MARKER = 'UNREADABLE-PLAINTEXT-9c1a';

  for (const [what, emit, sent] of [
    [
      "a 'messageerror' (a reply that cannot be deserialised)",
      (e: WorkerEvents) => e.unreadable(new SyntaxError(`Unexpected token in ${UNREADABLE_MARKER}`)),
      'a message that could not be read (SyntaxError)',
    ],
    [
      'a message that is no reply to any job (no id)',
      (e: WorkerEvents) => e.message(null),
      'a message that answers no job',
    ],
  ] as const) {
    it(`${what} fails every job the worker owes at once, typed, and the next job gets a fresh worker`, async () => {
      const host = browserLikeHost();
      host.silence(true);
      const offload = createWorkerOffload(host.spawn);
      const jobs = [watch(offload.run(sealJob(2))), watch(offload.run(sealJob(1)))];
      // It said it is ready (it started), and answers nothing.
      await vi.advanceTimersByTimeAsync(0);
      expect(jobs.map((j) => j.settled)).toEqual([false, false]);
      emit(host.workers[0]!.events);
      // No time passes: only what the event itself does settles the jobs.
      await vi.advanceTimersByTimeAsync(0);
      for (const job of jobs) {
        expect(job.settled).toBe(true);
        expect(isCryptoOffloadError(job.error) && job.error.code).toBe('WORKER_MESSAGE_UNREADABLE');
        // What could not be read is named by its class at most, never quoted.
        expect(job.error instanceof Error && job.error.message).toBe(
          `crypto worker sent ${sent}; the jobs it was running failed and it was replaced (the batch can be retried)`,
        );
        expect(String(job.error)).not.toContain(UNREADABLE_MARKER);
      }
      expect(host.workers[0]?.terminated).toBe(true);

      host.silence(false);
      expect((await offload.run(sealJob())).op).toBe('seal');
      expect(host.workers).toHaveLength(2);
      await offload.close();
    });
  }

  // What a worker entry answers for a job it could not run. Only a typed failure is taken as sent; an
  // error's own text (what an older or a host's own entry sends) may quote the job and is not passed on.
  const MARKER = 'REPLY-PLAINTEXT-5e0d';
  for (const [what, sent, expected] of [
    [
      'an AtRestError code and its message',
      { code: 'AT_REST_INVALID_KEY', message: 'at-rest key must be 32 bytes' },
      { name: 'AtRestError', code: 'AT_REST_INVALID_KEY', message: 'at-rest key must be 32 bytes' },
    ],
    [
      'WORKER_JOB_FAILED and its message',
      { code: 'WORKER_JOB_FAILED', message: 'crypto worker could not run the seal job (TypeError)' },
      {
        name: 'CryptoOffloadError',
        code: 'WORKER_JOB_FAILED',
        message: 'crypto worker could not run the seal job (TypeError)',
      },
    ],
    [
      'an AtRestError code with a message this build does not write',
      { code: 'AT_REST_INVALID_KEY', message: `at-rest key ${MARKER} must be 32 bytes` },
      {
        name: 'AtRestError',
        code: 'AT_REST_INVALID_KEY',
        message:
          'crypto worker failed the job with AT_REST_INVALID_KEY, and its message was not one this build writes',
      },
    ],
    [
      'another AtRestError code, with a message',
      { code: 'AT_REST_DECRYPT_FAILED', message: MARKER },
      {
        name: 'AtRestError',
        code: 'AT_REST_DECRYPT_FAILED',
        message:
          'crypto worker failed the job with AT_REST_DECRYPT_FAILED, and its message was not one this build writes',
      },
    ],
    [
      'WORKER_JOB_FAILED with a message of its own',
      { code: 'WORKER_JOB_FAILED', message: `crypto worker could not run the seal job (${MARKER})` },
      {
        name: 'CryptoOffloadError',
        code: 'WORKER_JOB_FAILED',
        message:
          'crypto worker failed the job with WORKER_JOB_FAILED, and its message was not one this build writes',
      },
    ],
    [
      "an error's text",
      `TypeError: Cannot create property 'x' on string '${MARKER}'`,
      {
        name: 'CryptoOffloadError',
        code: 'WORKER_JOB_FAILED',
        message: 'crypto worker could not run the seal job, and did not say why in a form this build reads',
      },
    ],
    [
      'a code this build does not know, with a message',
      { code: 'SOMETHING_NEWER', message: MARKER },
      {
        name: 'CryptoOffloadError',
        code: 'WORKER_JOB_FAILED',
        message: 'crypto worker could not run the seal job, and did not say why in a form this build reads',
      },
    ],
    [
      'no error at all',
      undefined,
      {
        name: 'CryptoOffloadError',
        code: 'WORKER_JOB_FAILED',
        message: 'crypto worker could not run the seal job, and did not say why in a form this build reads',
      },
    ],
  ] as const) {
    it(`a job the worker answers with ${what} fails typed, without the worker's own text`, async () => {
      const offload = createWorkerOffload((events) => ({
        post: (m) => queueMicrotask(() => events.message({ id: m.id, error: sent })),
        terminate: () => undefined,
      }));
      const error: unknown = await offload.run(sealJob()).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!(error instanceof Error)) throw new Error('expected the job to fail');
      expect({
        name: error.name,
        code: 'code' in error ? error.code : undefined,
        message: error.message,
      }).toEqual(expected);
      expect(String(error)).not.toContain(MARKER);
      await offload.close();
    });
  }

  it('ignores a late reply to a job that already failed, and keeps the worker', async () => {
    const host = browserLikeHost();
    const offload = createWorkerOffload(host.spawn);
    expect((await offload.run(sealJob())).op).toBe('seal');
    host.workers[0]!.events.message({ id: 999, result: null });
    expect(host.workers[0]?.terminated).toBe(false);
    expect((await offload.run(sealJob())).op).toBe('seal');
    expect(host.workers).toHaveLength(1);
    await offload.close();
  });
});
