/**
 * A device's bulk cryptography on a Node worker thread (`worker_threads`): at-rest seals and opens of
 * the storage wrapper and wire seals and opens of the sync engine (`runCryptoJob`), so RxDB keeps the
 * main thread and tweetnacl gets a core of its own. Node-only, so it lives outside src/ and is imported
 * as `@hale/client/node`; browsers run `runCryptoJob` in a Web Worker the same way.
 *
 * Invariants
 * - Each job is answered once, by id, in any order, and only with a reply that `checkCryptoJobResult`
 *   accepts for that job; keys travel with each job (copied into the worker's memory and dropped after
 *   the batch).
 * - The worker keeps the process alive only while a job is pending, so a process that never calls
 *   `close()` still exits once its jobs are answered.
 * - At most one worker runs at a time. A worker that dies (exits, throws outside a job, or sends a
 *   message that cannot be read, which would leave its job unanswered) takes only its pending jobs with
 *   it; the next `run` starts a fresh one. More than `WORKER_DEATH_LIMIT` (3) deaths within
 *   `WORKER_DEATH_WINDOW_MS` (60 s) is a crash loop: `run` rejects saying so, without starting a worker,
 *   until the oldest of those deaths leaves the window — so a device app that stays open for days
 *   recovers from a burst of crashes, and a worker that cannot live costs at most four starts a minute.
 * - No job waits for its answer for ever: a job not answered within its budget (`jobTimeoutMs`:
 *   JOB_TIMEOUT_BASE_MS plus JOB_TIMEOUT_PER_ITEM_MS per item of the job and of the jobs queued ahead of
 *   it in the same worker, which runs one job at a time) means the worker lost it or is stuck: the
 *   worker is terminated and counted as a death (its pending jobs fail), and the next `run` starts a
 *   fresh one. The budget is generous by design (see the constants): it only ends a stall, it is no
 *   latency target.
 * - After `close()` nothing restarts: pending and later jobs reject with "crypto offload is closed".
 * Failure modes: a job that throws in the worker, a job that cannot be copied to it, a malformed
 * reply, a message the worker cannot read, a job not answered in time, or a worker that dies rejects
 * (the at-rest wrapper reports AT_REST_ENCRYPT_FAILED, the sync engine fails the batch and RxDB retries
 * it); nothing is half-applied, because callers write only after every value of their batch is back.
 */
import { Worker } from 'node:worker_threads';
import type { CryptoJob, CryptoJobResult, CryptoOffload } from '../src/index';
import { checkCryptoJobResult } from '../src/offload/job-result';

export interface NodeCryptoOffload extends CryptoOffload {
  /** Stops the worker for good; pending and later jobs reject. */
  close(): Promise<void>;
}

export interface NodeCryptoOffloadOptions {
  /**
   * The worker's entry module (default: `crypto-worker-entry.mjs` next to this file), for hosts that
   * bundle it elsewhere (Electron, bundlers). It must answer each `{id, job}` message with
   * `{id, result: runCryptoJob(job)}` or `{id, error: string}`.
   */
  readonly workerUrl?: URL;
  /** How long a job may wait for its answer (default JOB_TIMEOUT_BASE_MS and JOB_TIMEOUT_PER_ITEM_MS). */
  readonly jobTimeout?: JobTimeout;
}

export interface JobTimeout {
  /** Once per job, whatever its size. */
  readonly baseMs: number;
  /** Per item of the job and of the jobs queued ahead of it in the worker. */
  readonly perItemMs: number;
}

/** More deaths than this within `WORKER_DEATH_WINDOW_MS` and the offload stops restarting its worker. */
export const WORKER_DEATH_LIMIT = 3;
export const WORKER_DEATH_WINDOW_MS = 60_000;
/**
 * Part of every job's budget. Covers what does not depend on the batch: starting a worker (the first job
 * of a fresh worker waits for tsx and the modules to load: about a second when idle, several on a loaded
 * two-core machine), collector pauses and a thread scheduled out. A minute: twenty times or more what
 * those cost, and still short enough that a stuck worker stalls writes and sync for a minute, not for good.
 */
export const JOB_TIMEOUT_BASE_MS = 60_000;
/**
 * Per item. An item costs ≈20 µs for a 1 KB record and ≈30 ms for the largest one (MAX_DOC_BYTES, 1 MiB)
 * on a slow core (docs/benchmarks.md: tweetnacl at tens of MiB/s); 100 ms is three times the worst item
 * and thousands of times a common one, so a legitimate batch is never cut off (500 items: 110 s).
 */
export const JOB_TIMEOUT_PER_ITEM_MS = 100;

/** A job's budget, for `items` items of its own and of the jobs ahead of it (see JobTimeout). */
export const jobTimeoutMs = (
  items: number,
  timeout: JobTimeout = { baseMs: JOB_TIMEOUT_BASE_MS, perItemMs: JOB_TIMEOUT_PER_ITEM_MS },
): number => timeout.baseMs + timeout.perItemMs * items;

const DEFAULT_ENTRY = new URL('./crypto-worker-entry.mjs', import.meta.url);

interface Waiter {
  readonly job: CryptoJob;
  readonly resolve: (r: CryptoJobResult) => void;
  readonly reject: (e: Error) => void;
  /** Ends the worker if the job is not answered in time; cleared when the job settles. */
  timer?: ReturnType<typeof setTimeout>;
}

/** One worker and the jobs it owes answers for. */
interface Running {
  readonly worker: Worker;
  readonly pending: Map<number, Waiter>;
  /** Fails its pending jobs as closed (not a death) and terminates it. */
  readonly stop: () => Promise<void>;
  /** Fails its pending jobs with `error`, counts a death and terminates it (a job not answered in time). */
  readonly stall: (error: Error) => void;
}

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** The reply's envelope (`result` itself is checked against its job, by `checkCryptoJobResult`). */
const replyOf = (m: unknown): { id: number; result: unknown; error: unknown } | null => {
  if (typeof m !== 'object' || m === null || !('id' in m) || typeof m.id !== 'number') return null;
  return {
    id: m.id,
    result: 'result' in m ? m.result : undefined,
    error: 'error' in m ? m.error : undefined,
  };
};

export function createNodeCryptoOffload(options: NodeCryptoOffloadOptions = {}): NodeCryptoOffload {
  const entry = options.workerUrl ?? DEFAULT_ENTRY;
  const timeout = options.jobTimeout ?? { baseMs: JOB_TIMEOUT_BASE_MS, perItemMs: JOB_TIMEOUT_PER_ITEM_MS };
  let running: Running | null = null;
  let closed = false;
  /** When recent workers died (performance.now(): monotonic, a clock change cannot reset the count). */
  let deaths: number[] = [];
  let nextId = 1;

  const recentDeaths = (): number => {
    const now = performance.now();
    deaths = deaths.filter((t) => now - t < WORKER_DEATH_WINDOW_MS);
    return deaths.length;
  };
  const noteDeath = (): void => {
    recentDeaths();
    deaths.push(performance.now());
  };
  /** Null, or why no worker may start now (restarts resume once the deaths leave the window). */
  const crashLoop = (): Error | null => {
    const n = recentDeaths();
    if (n <= WORKER_DEATH_LIMIT) return null;
    return new Error(
      `crypto worker died ${n} times within ${WORKER_DEATH_WINDOW_MS / 1000} s; not restarting it (crash loop) ` +
        'until a minute has passed since its first death; the batch can be retried',
    );
  };

  const start = (): Running => {
    const worker = new Worker(entry);
    let dead = false;
    const self: Running = {
      worker,
      pending: new Map(),
      stop: async () => {
        die(closedError(), false);
        await worker.terminate();
      },
      stall: (error) => {
        // Lost a job or stuck in a loop: ended like a worker that died, so the next run starts a fresh one.
        die(error, true);
        void worker.terminate();
      },
    };
    /** First of 'error' and 'exit' (a worker that throws emits both): its jobs fail, the next run restarts. */
    const die = (error: Error, counts: boolean): void => {
      if (dead) return;
      dead = true;
      if (running === self) running = null;
      for (const p of self.pending.values()) {
        clearTimeout(p.timer);
        p.reject(error);
      }
      self.pending.clear();
      if (counts && !closed) noteDeath();
    };
    worker.on('message', (message: unknown) => {
      const reply = replyOf(message);
      const p = reply === null ? undefined : self.pending.get(reply.id);
      if (reply === null || p === undefined) return;
      settle(self, reply.id);
      if (reply.result === undefined) {
        p.reject(new Error(typeof reply.error === 'string' ? reply.error : 'crypto worker failed'));
        return;
      }
      try {
        p.resolve(checkCryptoJobResult(p.job, reply.result));
      } catch (error) {
        p.reject(asError(error));
      }
    });
    worker.on('error', (error) => die(error, true));
    // A reply that cannot be deserialised names no job, which would then wait forever: treat the worker
    // as dead (its jobs fail and are retried by their callers) and replace it.
    worker.on('messageerror', (error) => {
      die(new Error(`crypto worker sent an unreadable message: ${String(error)}`), true);
      void worker.terminate();
    });
    worker.on('exit', (code) => die(new Error(`crypto worker exited with code ${code}`), true));
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    return self;
  };

  // A worker keeps the process alive only while it owes an answer: an idle worker must not (tests,
  // CLIs that never close it), a pending job must (its caller is waiting for the answer).
  const add = (r: Running, id: number, p: Waiter): void => {
    // The worker runs one job at a time, in the order sent: this one also waits for those ahead of it.
    let items = p.job.items.length;
    for (const ahead of r.pending.values()) items += ahead.job.items.length;
    const ms = jobTimeoutMs(items, timeout);
    const n = p.job.items.length;
    r.pending.set(id, p);
    if (r.pending.size === 1) r.worker.ref();
    p.timer = setTimeout(() => {
      r.stall(
        new Error(
          `crypto worker did not answer a ${p.job.op} job of ${n} item${n === 1 ? '' : 's'} within ` +
            `${ms / 1000} s; it was stopped and replaced`,
        ),
      );
    }, ms);
    // The worker keeps the process alive while a job is pending; the timer only ends that wait.
    p.timer.unref();
  };
  const settle = (r: Running, id: number): void => {
    clearTimeout(r.pending.get(id)?.timer);
    if (r.pending.delete(id) && r.pending.size === 0) r.worker.unref();
  };

  // Started now, so that the first batch does not wait for the worker to load.
  running = start();

  return {
    run(job: CryptoJob): Promise<CryptoJobResult> {
      if (closed) return Promise.reject(closedError());
      const loop = running === null ? crashLoop() : null;
      if (loop) return Promise.reject(loop);
      let r: Running;
      try {
        r = running ??= start();
      } catch (error) {
        // A worker that cannot even be created (out of threads or memory): this job fails, nothing died.
        return Promise.reject(asError(error));
      }
      const id = nextId++;
      return new Promise<CryptoJobResult>((resolve, reject) => {
        add(r, id, { job, resolve, reject });
        try {
          r.worker.postMessage({ id, job });
        } catch (error) {
          // A value that cannot be copied to the worker (never the case for stored JSON): fail this job only.
          settle(r, id);
          reject(asError(error));
        }
      });
    },
    async close(): Promise<void> {
      closed = true;
      const r = running;
      running = null;
      if (r !== null) await r.stop();
    },
  };
}

const closedError = (): Error => new Error('crypto offload is closed');
