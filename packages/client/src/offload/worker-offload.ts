/**
 * A `CryptoOffload` over one worker at a time: a Node worker thread (`@hale/client/node`) or a Web Worker,
 * adapted by the host to a `WorkerPort`. The worker side (answer-crypto-message.ts) posts CRYPTO_WORKER_READY
 * once loaded and answers each `{ id, job }` with `{ id, result }` or `{ id, error }` (job-failure.ts).
 *
 * Invariants:
 * - Each job is answered once, by id, with a reply `checkCryptoJobResult` accepts; keys travel with each job.
 * - One worker at a time; it has started once it posts CRYPTO_WORKER_READY or answers a job.
 * - A started worker that dies takes only the jobs it owes (posted or queued); the next `run` starts anew.
 * - Over WORKER_DEATH_LIMIT deaths in WORKER_DEATH_WINDOW_MS: a crash loop; `run` rejects until one ages out.
 * - A worker that ends before it started ran none of its jobs: they run on the calling thread (no death).
 * - WORKER_START_FAILURE_LIMIT failed starts in a row: no more workers; `fallback()`, `onFallback` say why.
 * - At most WORKER_JOBS_IN_FLIGHT jobs posted and unanswered; later ones queue here in `run` order.
 * - A job unanswered in `jobTimeoutMs` (from posting, per item incl. those ahead) ends its worker: a death.
 * - A message that is no reply (or 'messageerror') fails every job the worker owes at once and ends it.
 * - After `close()` nothing restarts: pending, queued and later jobs reject.
 * - A seal item that is not plain JSON (json-prefilter.ts) is answered null here, never posted.
 * - `minBatch` (a positive integer, else RangeError) is only what callers read; any batch is run.
 * Failure modes: a job that throws in the worker or cannot be copied to it, a malformed reply, an unreadable
 * message, a timeout or a death rejects (callers write nothing of the batch). A failed job rejects with the
 * worker's AtRestError (same code and message) or WORKER_JOB_FAILED; worker text is taken only as
 * `readJobFailure` checks it, never quoting the job.
 */
import { HaleError } from '../core/hale-error';
import {
  CRYPTO_WORKER_READY,
  OFFLOAD_MIN_BATCH,
  type CryptoJob,
  type CryptoJobResult,
  type CryptoOffload,
  type CryptoOffloadErrorCode,
} from './crypto-offload';
import { AtRestError } from './at-rest-jobs';
import { errorClassOf, jobFailureOf, readJobFailure } from './job-failure';
import { checkCryptoJobResult } from './job-result';
import { prefilterJson } from './json-prefilter';
import { runCryptoJob } from './run-crypto-job';

export interface WorkerOffload extends CryptoOffload {
  /** Stops the worker for good; pending, queued and later jobs reject. */
  close(): Promise<void>;
  /**
   * Null while jobs go to workers; once no worker could start (WORKER_START_FAILURE_LIMIT in a row), the
   * CryptoOffloadError WORKER_UNAVAILABLE saying so (the one `onFallback` was given): jobs run on the
   * calling thread from then on.
   */
  fallback(): CryptoOffloadError | null;
}

/** The crypto offload (a worker) failed or was closed (`code`); its jobs are rejected, none half done. */
export class CryptoOffloadError extends HaleError {
  override readonly name = 'CryptoOffloadError';
  constructor(
    readonly code: CryptoOffloadErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Whether `e` is a `CryptoOffloadError` (`WORKER_UNAVAILABLE`, `WORKER_MESSAGE_UNREADABLE`, …). */
export const isCryptoOffloadError = (e: unknown): e is CryptoOffloadError => e instanceof CryptoOffloadError;

/** What the host reports of the worker it started: every message, an unreadable one, and its death. */
export interface WorkerEvents {
  /** Any message, CRYPTO_WORKER_READY included. */
  message(message: unknown): void;
  /**
   * A message from the worker could not be deserialised: the 'messageerror' event of a Node Worker, a
   * Web Worker or its MessagePort (`error`: what the event carries). It names no job, so every job the
   * worker owes fails.
   */
  unreadable(error: unknown): void;
  /**
   * The worker is gone or unusable (exit, uncaught error); reported once or more. `error` becomes the
   * rejection of the jobs the worker owes: the host's own words, never the worker's error text.
   */
  died(error: Error): void;
}

/** One started worker, as the host drives it. */
export interface WorkerPort {
  /** Sends a job; throws when the message cannot be copied to the worker. */
  post(message: { readonly id: number; readonly job: CryptoJob }): void;
  /** Ends the worker. */
  terminate(): Promise<unknown> | void;
  /**
   * Whether the worker should keep the host alive: true while it owes an answer (Node's ref/unref, so a
   * process that never calls `close()` still exits once its jobs are answered). Hosts without such a
   * notion leave it out.
   */
  hold?(held: boolean): void;
}

/** Options of `createWorkerOffload`: job time limits and what to call on a fallback. */
export interface WorkerOffloadOptions {
  /** How long a job may wait for its answer (default JOB_TIMEOUT_BASE_MS and JOB_TIMEOUT_PER_ITEM_MS). */
  readonly jobTimeout?: JobTimeout;
  /** A monotonic clock in ms for counting deaths (default `performance.now`: a clock change resets nothing). */
  readonly monotonicNow?: () => number;
  /**
   * The offload's `minBatch` (a positive integer; default OFFLOAD_MIN_BATCH, which an app keeps: a round
   * trip costs more than a few items in its own thread). Tests set 1 to run every batch on the worker.
   */
  readonly minBatch?: number;
  /**
   * Called once, if ever, when the offload gives up on workers (WORKER_START_FAILURE_LIMIT in a row could
   * not start) and runs every job on the calling thread: with the error `fallback()` answers from then on,
   * for the app to show or log. What it throws is ignored.
   */
  readonly onFallback?: (error: CryptoOffloadError) => void;
}

/** How long a job may wait for its answer: `jobTimeoutMs` of these. */
export interface JobTimeout {
  /** Once per job, whatever its size. */
  readonly baseMs: number;
  /** Per item of the job and of the jobs posted ahead of it and unanswered in the worker. */
  readonly perItemMs: number;
}

/** More deaths than this within `WORKER_DEATH_WINDOW_MS` and the offload stops restarting its worker. */
export const WORKER_DEATH_LIMIT = 3;
/** The window in which `WORKER_DEATH_LIMIT` deaths make a crash loop. */
export const WORKER_DEATH_WINDOW_MS = 60_000;
/**
 * Workers in a row that end before they start, after which the offload starts no more and runs every job
 * on the calling thread. A bad URL, a CSP or an entry that throws fails every time; three tell that from
 * a passing shortage, and cost a few failed spawns (or, for a worker that never says a word, three job
 * budgets during which its jobs wait, then run here).
 */
export const WORKER_START_FAILURE_LIMIT = 3;
/**
 * Part of every job's budget. Covers what does not depend on the batch: starting a worker (the first job
 * of a fresh worker waits for its modules to load: about a second when idle, several on a loaded
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
/**
 * Jobs posted to one worker and not yet answered; later ones wait in the offload, unposted. The worker runs
 * one job at a time, so a few keep it busy across a round trip and through a busy main thread; more would
 * only hand a slow or stuck worker more keys and content, and lengthen the budget of the last one posted.
 */
export const WORKER_JOBS_IN_FLIGHT = 4;

const DEFAULT_TIMEOUT: JobTimeout = { baseMs: JOB_TIMEOUT_BASE_MS, perItemMs: JOB_TIMEOUT_PER_ITEM_MS };

/** A job's budget from when it is posted, for `items` items of its own and of the jobs ahead of it (see JobTimeout). */
export const jobTimeoutMs = (items: number, timeout: JobTimeout = DEFAULT_TIMEOUT): number =>
  timeout.baseMs + timeout.perItemMs * items;

interface Waiter {
  readonly id: number;
  readonly job: CryptoJob;
  readonly resolve: (r: CryptoJobResult) => void;
  readonly reject: (e: Error) => void;
  /** Ends the worker if the job is not answered in time (set when posted); cleared when the job settles. */
  timer?: ReturnType<typeof setTimeout>;
}

/** One worker and the jobs it owes answers for. */
interface Running {
  readonly port: WorkerPort;
  /** Jobs posted to the worker and not yet answered (at most WORKER_JOBS_IN_FLIGHT). */
  readonly pending: Map<number, Waiter>;
  /** Jobs waiting here, in order, for a place in `pending` (not posted yet: no timer). */
  readonly queued: Waiter[];
  /** Fails its pending and queued jobs with `error`; a death (`counts`) unless the offload is being closed. */
  readonly die: (error: Error, counts: boolean) => void;
  /** A death, and the worker terminated. */
  readonly end: (error: Error) => void;
  readonly dead: () => boolean;
}

/**
 * A job's items, counted for its budget. A job whose `items` is no list (a caller's bug, which the worker
 * refuses) counts none: an undefined length would make the budget NaN, and a timer of NaN ms fires at
 * once, ending the worker before it could answer.
 */
const itemCount = (job: CryptoJob): number => (Array.isArray(job.items) ? job.items.length : 0);

/** What a worker posts once its entry has loaded (CRYPTO_WORKER_READY: no `id`, so no reply). */
const isReady = (m: unknown): boolean =>
  typeof m === 'object' &&
  m !== null &&
  'ready' in m &&
  m.ready === CRYPTO_WORKER_READY.ready &&
  !('id' in m);

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/** Why a job could not be posted, by the error's name alone (its message may quote the job's values). */
const notCopied = (error: unknown): Error => {
  const name =
    typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string'
      ? error.name
      : typeof error;
  return new Error(`crypto job could not be copied to the worker (${name})`);
};

/** The reply's envelope (`result` itself is checked against its job, by `checkCryptoJobResult`). */
const replyOf = (m: unknown): { id: number; result: unknown; error: unknown } | null => {
  if (typeof m !== 'object' || m === null || !('id' in m) || typeof m.id !== 'number') return null;
  return {
    id: m.id,
    result: 'result' in m ? m.result : undefined,
    error: 'error' in m ? m.error : undefined,
  };
};

/** Node's timers keep the process alive unless unref'd; a browser's timer handle is a number. */
const unrefTimer = (timer: ReturnType<typeof setTimeout>): void => {
  if (typeof timer === 'object') timer.unref();
};

const closedError = (): Error => new Error('crypto offload is closed');

/** The rejection of `job`, which the worker answered as failed with `sent` (see the header). */
const jobFailed = (sent: unknown, job: CryptoJob): Error => {
  const failure = readJobFailure(sent);
  if (failure === null) {
    return new CryptoOffloadError(
      'WORKER_JOB_FAILED',
      `crypto worker could not run the ${job.op} job, and did not say why in a form this build reads`,
    );
  }
  return failure.code === 'WORKER_JOB_FAILED'
    ? new CryptoOffloadError(failure.code, failure.message)
    : new AtRestError(failure.code, failure.message);
};

const unreadableError = (what: string): CryptoOffloadError =>
  new CryptoOffloadError(
    'WORKER_MESSAGE_UNREADABLE',
    `crypto worker sent ${what}; the jobs it was running failed and it was replaced (the batch can be retried)`,
  );

/**
 * `spawn` starts a worker (throwing if it cannot) and reports its messages and death through `events`.
 * The first worker starts at once, so the first batch does not wait for it to load.
 */
export function createWorkerOffload(
  spawn: (events: WorkerEvents) => WorkerPort,
  options: WorkerOffloadOptions = {},
): WorkerOffload {
  const timeout = options.jobTimeout ?? DEFAULT_TIMEOUT;
  const minBatch = options.minBatch ?? OFFLOAD_MIN_BATCH;
  if (!Number.isSafeInteger(minBatch) || minBatch < 1) {
    throw new RangeError(`minBatch must be a positive integer (got ${String(minBatch)})`);
  }
  const clock = options.monotonicNow ?? (() => performance.now());
  let running: Running | null = null;
  let closed = false;
  /** When recent workers died (workers that had started). */
  let deaths: number[] = [];
  let nextId = 1;
  /** Workers in a row that ended before they started. */
  let failedStarts = 0;
  /** Set once no worker could start: every job runs here from then on. */
  let fellBack: CryptoOffloadError | null = null;

  /** `why` (this thread's words) the last worker could not start; may give up on workers for good. */
  const startFailed = (why: string): void => {
    if (closed || fellBack !== null) return;
    failedStarts++;
    if (failedStarts < WORKER_START_FAILURE_LIMIT) return;
    fellBack = new CryptoOffloadError(
      'WORKER_UNAVAILABLE',
      `crypto worker could not start (${failedStarts} workers in a row; the last: ${why}); ` +
        'jobs run on the calling thread from now on',
    );
    try {
      options.onFallback?.(fellBack);
    } catch {
      // The app's listener failing is no reason to stop answering jobs.
    }
  };

  /**
   * Runs `p`'s job on this thread (no worker ran it). It fails as the worker's answer would: the job's own
   * typed error, else WORKER_JOB_FAILED, read through `jobFailed` like a worker's.
   */
  const answerHere = (p: Waiter): void => {
    let result: CryptoJobResult;
    try {
      result = runCryptoJob(p.job);
    } catch (error) {
      p.reject(jobFailed(jobFailureOf(error, p.job), p.job));
      return;
    }
    p.resolve(result);
  };

  const recentDeaths = (): number => {
    const now = clock();
    deaths = deaths.filter((t) => now - t < WORKER_DEATH_WINDOW_MS);
    return deaths.length;
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
    let dead = false;
    /** It said it is ready, or answered a job. */
    let started = false;
    /** The worker loaded (said so, or answered a job): its failures are deaths, no longer failed starts. */
    const markStarted = (): void => {
      if (started) return;
      started = true;
      failedStarts = 0;
    };
    const pending = new Map<number, Waiter>();
    const queued: Waiter[] = [];
    // Filled in once `spawn` returns; a death reported before that only marks the worker dead.
    const ref: { port?: WorkerPort; self?: Running } = {};
    /**
     * First report of its end (a host may report it more than once): its jobs fail, or run here if it
     * never started (it ran none of them).
     */
    const die = (error: Error, counts: boolean): void => {
      if (dead) return;
      dead = true;
      if (ref.self !== undefined && running === ref.self) running = null;
      // Owed by this worker too: a fresh one is started by the next run, not for jobs of a dead one.
      const owed = [...pending.values(), ...queued.splice(0)];
      pending.clear();
      for (const p of owed) clearTimeout(p.timer);
      const failedToStart = counts && !closed && !started;
      if (failedToStart) {
        startFailed(error.message);
      } else if (counts && !closed) {
        recentDeaths();
        deaths.push(clock());
      }
      for (const p of owed) {
        if (failedToStart) answerHere(p);
        else p.reject(error);
      }
    };
    /** A death, and the worker ended: it may still run (stuck, or after an unreadable message). */
    const end = (error: Error): void => {
      die(error, true);
      void Promise.resolve(ref.port?.terminate()).catch(() => undefined);
    };
    const port = spawn({
      message: (message) => {
        if (isReady(message)) {
          // A dead worker's word no longer counts: it would reset the count of failed starts.
          if (!dead) markStarted();
          return;
        }
        const reply = replyOf(message);
        // Not a reply to any job: which one it was meant to answer is unknown, so none can be.
        if (reply === null) return end(unreadableError('a message that answers no job'));
        const p = pending.get(reply.id);
        if (p === undefined || ref.self === undefined) return;
        // An entry that never says it is ready has started once it answers.
        markStarted();
        settle(ref.self, reply.id);
        if (reply.result === undefined) {
          p.reject(jobFailed(reply.error, p.job));
          return;
        }
        try {
          p.resolve(checkCryptoJobResult(p.job, reply.result));
        } catch (error) {
          p.reject(asError(error));
        }
      },
      // The class of what the event carries, not its text (it may quote what could not be read).
      unreadable: (error) =>
        end(unreadableError(`a message that could not be read (${errorClassOf(error)})`)),
      died: end,
    });
    ref.port = port;
    const self: Running = { port, pending, queued, die, end, dead: () => dead };
    ref.self = self;
    if (dead) void Promise.resolve(port.terminate()).catch(() => undefined);
    return self;
  };

  /** Posts `p` to the worker, its budget counted from now (a job that cannot be copied fails alone). */
  const send = (r: Running, p: Waiter): void => {
    // The worker runs one job at a time, in the order sent: this one also waits for those ahead of it.
    let items = itemCount(p.job);
    for (const ahead of r.pending.values()) items += itemCount(ahead.job);
    const ms = jobTimeoutMs(items, timeout);
    const n = itemCount(p.job);
    r.pending.set(p.id, p);
    if (r.pending.size === 1) r.port.hold?.(true);
    p.timer = setTimeout(() => {
      // Lost a job or stuck in a loop: ended like a worker that died, so the next run starts a fresh one.
      r.end(
        new Error(
          `crypto worker did not answer ${/^[aeiou]/.test(p.job.op) ? 'an' : 'a'} ${p.job.op} job of ${n} item${n === 1 ? '' : 's'} within ` +
            `${ms / 1000} s; it was stopped and replaced`,
        ),
      );
    }, ms);
    // The worker keeps the host alive while a job is pending; the timer only ends that wait.
    unrefTimer(p.timer);
    try {
      r.port.post({ id: p.id, job: p.job });
    } catch (error) {
      // What the prefilter let through is JSON; a proxy of it still cannot be copied: this job fails.
      drop(r, p.id);
      if (r.pending.size === 0) r.port.hold?.(false);
      p.reject(notCopied(error));
    }
  };
  /** Posts queued jobs while the worker has room for them. */
  const pump = (r: Running): void => {
    while (!r.dead() && r.pending.size < WORKER_JOBS_IN_FLIGHT) {
      const next = r.queued.shift();
      if (next === undefined) return;
      send(r, next);
    }
  };
  const drop = (r: Running, id: number): boolean => {
    clearTimeout(r.pending.get(id)?.timer);
    return r.pending.delete(id);
  };
  /** `id` was answered: its place goes to the next queued job. */
  const settle = (r: Running, id: number): void => {
    if (!drop(r, id)) return;
    pump(r);
    if (r.pending.size === 0) r.port.hold?.(false);
  };

  /** A fresh worker, or null when the host cannot create one (out of threads, a CSP): a failed start. */
  const tryStart = (): Running | null => {
    try {
      return (running = start());
    } catch (error) {
      // Its class only: a host's error may name the URL or the policy, which is not ours to pass on.
      startFailed(`the host could not create it (${errorClassOf(error)})`);
      return null;
    }
  };

  tryStart();

  return {
    minBatch,
    fallback: () => fellBack,
    run(whole: CryptoJob): Promise<CryptoJobResult> {
      if (closed) return Promise.reject(closedError());
      const { send: job, answer } = prefilterJson(whole);
      if (job === null) return Promise.resolve(answer(null));
      return new Promise<CryptoJobResult>((resolve, reject) => {
        const p: Waiter = { id: nextId++, job, resolve: (result) => resolve(answer(result)), reject };
        if (fellBack !== null) return answerHere(p);
        const loop = running === null ? crashLoop() : null;
        if (loop) return reject(loop);
        const r = running ?? tryStart();
        if (r === null) return answerHere(p);
        if (r.dead()) {
          // Its host reported it dead while starting it (a failed start, counted): the next run starts another.
          if (running === r) running = null;
          return answerHere(p);
        }
        // In order: a job never overtakes one queued before it.
        if (r.queued.length === 0 && r.pending.size < WORKER_JOBS_IN_FLIGHT) send(r, p);
        else r.queued.push(p);
      });
    },
    async close(): Promise<void> {
      closed = true;
      const r = running;
      running = null;
      if (r === null) return;
      r.die(closedError(), false);
      await r.port.terminate();
    },
  };
}
