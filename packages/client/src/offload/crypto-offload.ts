/**
 * One place where a device's bulk cryptography can run off the thread that runs RxDB: at-rest seals
 * and opens of the storage wrapper, and wire seals and opens of the sync engine, as batches of plain
 * data (they cross a thread boundary). `runCryptoJob` (run-crypto-job.ts) is what the other side runs (a Node worker:
 * `@hale/client/node`; a Web Worker in browsers).
 *
 * Invariants: a job carries everything it needs (keys included) and is answered once with a result of
 * the same `op` and one outcome per item, in order. Callers send a batch only when it has at least the
 * offload's `minBatch` items (`offloadMinBatch`), and run smaller ones in their own thread. Failure modes:
 * the offload rejects (worker died, job threw); callers then fail their whole batch and apply nothing.
 */
import type { HaleErrorCode } from '../core/error-codes';
import type { AtRestJob, AtRestJobResult } from './at-rest-jobs';
import type { WireJob, WireJobResult } from './wire-jobs';

/** A batch of cryptography an offload runs: at-rest or wire seals and opens. */
export type CryptoJob = AtRestJob | WireJob;
/** What a `CryptoJob` answers. */
export type CryptoJobResult = AtRestJobResult | WireJobResult;

/** Where batches of cryptography run (e.g. a worker thread running `runCryptoJob`). */
export interface CryptoOffload {
  /**
   * Runs a job on the offload's thread (a batch under `OFFLOAD_MIN_BATCH` items runs on the calling thread).
   */
  run(job: CryptoJob): Promise<CryptoJobResult>;
  /**
   * Below this many items a batch runs in the caller's thread (default `OFFLOAD_MIN_BATCH`). Tests set 1
   * so that small batches take the worker's path too; an app has no reason to.
   */
  readonly minBatch?: number;
}

/** Below this many items a batch runs in this thread: a worker round trip would cost more. */
export const OFFLOAD_MIN_BATCH = 8;

/**
 * What a crypto worker posts once its entry has loaded, before it answers any job: the offload then knows
 * the worker started, so a later death or silence is the worker's failure, not a failure to start (see
 * worker-offload.ts). An entry that never posts it is taken as started by its first answer.
 */
export const CRYPTO_WORKER_READY = { ready: true } as const;

/** The fewest items of a batch that callers send to `offload`. */
export const offloadMinBatch = (offload: CryptoOffload): number => offload.minBatch ?? OFFLOAD_MIN_BATCH;

/**
 * Error codes of the offload's own typed failures (append-only). `WORKER_MESSAGE_UNREADABLE`: the worker
 * sent a message that could not be read (a 'messageerror', or no reply to any job), so the jobs it was
 * running failed and it was replaced; the batch can be retried. `WORKER_JOB_FAILED`: the worker answered
 * that it could not run the job, with no typed error of the job's own (a bug, or an answer it could not
 * send); the worker stays. `WORKER_UNAVAILABLE`: no worker could start, so jobs run on the calling thread
 * (a report, never a job's rejection: see `WorkerOffload.fallback`).
 */
export const CRYPTO_OFFLOAD_ERROR_CODES = [
  'WORKER_MESSAGE_UNREADABLE',
  'WORKER_JOB_FAILED',
  'WORKER_UNAVAILABLE',
] as const satisfies readonly HaleErrorCode[];
export type CryptoOffloadErrorCode = (typeof CRYPTO_OFFLOAD_ERROR_CODES)[number];
