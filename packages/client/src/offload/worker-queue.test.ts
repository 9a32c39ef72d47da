// A slow or silent worker is posted at most WORKER_JOBS_IN_FLIGHT jobs; the rest wait in the offload, in
// order, and each job's budget runs from when it is posted, so a job that waited behind slow ones is not
// failed for their time. A death or close() fails the queued jobs with the posted ones. The "worker" here
// answers only when the test says so; the clock is Vitest's fake `setTimeout`.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CRYPTO_WORKER_READY, type CryptoJob } from './crypto-offload';
import { runCryptoJob } from './run-crypto-job';
import { sealJob, watch } from './offload.test-util';
import {
  WORKER_JOBS_IN_FLIGHT,
  createWorkerOffload,
  type WorkerEvents,
  type WorkerPort,
} from './worker-offload';

/** Workers that keep what they were posted and answer a job only through `answer`. */
function slowHost(options: { refuse?: (id: number) => boolean } = {}) {
  const workers: Array<{
    posted: Array<{ id: number; job: CryptoJob }>;
    held: boolean[];
    terminated: boolean;
    events: WorkerEvents;
  }> = [];
  const spawn = (events: WorkerEvents): WorkerPort => {
    const w = {
      posted: [] as Array<{ id: number; job: CryptoJob }>,
      held: [] as boolean[],
      terminated: false,
      events,
    };
    workers.push(w);
    // Started, as the shipped entries say once loaded: a death or silence is this worker's own.
    queueMicrotask(() => events.message(CRYPTO_WORKER_READY));
    return {
      post: (m) => {
        if (options.refuse?.(m.id)) throw new DOMException('could not clone', 'DataCloneError');
        w.posted.push(m);
      },
      terminate: () => void (w.terminated = true),
      hold: (held) => void w.held.push(held),
    };
  };
  /** Answers the job posted as the worker's `n`th (from 0). */
  const answer = (n: number, worker = 0) => {
    const w = workers[worker]!;
    const m = w.posted[n]!;
    w.events.message({ id: m.id, result: runCryptoJob(m.job) });
  };
  return { spawn, workers, answer };
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

describe('jobs queued to a slow worker', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it(`posts at most ${WORKER_JOBS_IN_FLIGHT} jobs at a time, the others in order as answers come back`, async () => {
    const host = slowHost();
    const offload = createWorkerOffload(host.spawn);
    const jobs = Array.from({ length: 10 }, (_, i) => watch(offload.run(sealJob(i + 1))));
    const sizes = () => host.workers[0]!.posted.map((m) => m.job.items.length);
    expect(sizes()).toEqual([1, 2, 3, 4]);
    host.answer(1);
    expect(sizes()).toEqual([1, 2, 3, 4, 5]);
    host.answer(0);
    host.answer(2);
    expect(sizes()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    for (let n = 3; n < 10; n++) host.answer(n);
    await vi.advanceTimersByTimeAsync(0);
    expect(jobs.map((j) => j.ok)).toEqual(Array.from({ length: 10 }, () => true));
    // Held while any job was posted and unanswered, released once the last was answered.
    expect(host.workers[0]!.held.at(-1)).toBe(false);
    expect(host.workers[0]!.held.filter((h) => h)).toHaveLength(1);
    await offload.close();
  });

  it("starts a queued job's budget when it is posted, not when it was asked", async () => {
    const host = slowHost();
    const offload = createWorkerOffload(host.spawn, { jobTimeout: { baseMs: 1_000, perItemMs: 0 } });
    const jobs = Array.from({ length: WORKER_JOBS_IN_FLIGHT + 1 }, () => watch(offload.run(sealJob())));
    await vi.advanceTimersByTimeAsync(900);
    for (let n = 0; n < WORKER_JOBS_IN_FLIGHT; n++) host.answer(n);
    // The last job is posted now, at 900 ms: its budget runs to 1,900 ms.
    expect(host.workers[0]!.posted).toHaveLength(WORKER_JOBS_IN_FLIGHT + 1);
    await vi.advanceTimersByTimeAsync(999);
    const last = jobs.at(-1)!;
    expect(last.settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(last.ok).toBe(false);
    expect(messageOf(last.error)).toMatch(/did not answer a seal job of 1 item within 1 s/);
    expect(jobs.slice(0, -1).map((j) => j.ok)).toEqual(
      Array.from({ length: WORKER_JOBS_IN_FLIGHT }, () => true),
    );
    await offload.close();
  });

  it('a worker stuck on its jobs fails the jobs queued for it too, and the next job gets a fresh worker', async () => {
    const host = slowHost();
    const offload = createWorkerOffload(host.spawn, { jobTimeout: { baseMs: 1_000, perItemMs: 0 } });
    const jobs = Array.from({ length: WORKER_JOBS_IN_FLIGHT + 3 }, () => watch(offload.run(sealJob())));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(jobs.map((j) => j.settled)).toEqual(jobs.map(() => true));
    for (const j of jobs)
      expect(messageOf(j.error)).toMatch(/did not answer a seal job of 1 item within 1 s/);
    expect(host.workers[0]!.posted).toHaveLength(WORKER_JOBS_IN_FLIGHT);
    expect(host.workers[0]!.terminated).toBe(true);
    const next = watch(offload.run(sealJob()));
    host.answer(0, 1);
    await vi.advanceTimersByTimeAsync(0);
    expect(next.ok).toBe(true);
    await offload.close();
  });

  it('close() fails the queued jobs with the posted ones, and posts none of them', async () => {
    const host = slowHost();
    const offload = createWorkerOffload(host.spawn);
    const jobs = Array.from({ length: WORKER_JOBS_IN_FLIGHT + 2 }, () => watch(offload.run(sealJob())));
    await offload.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(jobs.map((j) => messageOf(j.error))).toEqual(jobs.map(() => 'crypto offload is closed'));
    expect(host.workers[0]!.posted).toHaveLength(WORKER_JOBS_IN_FLIGHT);
  });

  it('a queued job that cannot be copied to the worker fails alone; the next queued one takes its place', async () => {
    // The fifth job (the first queued) cannot be copied.
    const host = slowHost({ refuse: (id) => id === WORKER_JOBS_IN_FLIGHT + 1 });
    const offload = createWorkerOffload(host.spawn);
    const jobs = Array.from({ length: WORKER_JOBS_IN_FLIGHT + 2 }, (_, i) =>
      watch(offload.run(sealJob(i + 1))),
    );
    host.answer(0);
    await vi.advanceTimersByTimeAsync(0);
    const refused = jobs[WORKER_JOBS_IN_FLIGHT]!;
    expect(refused.ok).toBe(false);
    expect(messageOf(refused.error)).toBe('crypto job could not be copied to the worker (DataCloneError)');
    expect(host.workers[0]!.posted.map((m) => m.job.items.length)).toEqual([1, 2, 3, 4, 6]);
    for (let n = 1; n < 5; n++) host.answer(n);
    await vi.advanceTimersByTimeAsync(0);
    expect(jobs.map((j) => j.ok)).toEqual([true, true, true, true, false, true]);
    await offload.close();
  });
});
