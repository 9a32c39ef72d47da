/**
 * The worker side of a crypto offload (worker-offload.ts), whatever the worker: the Node entry
 * (node/crypto-worker-entry.mjs) and a browser's Web Worker hand it each message they receive, with the
 * way to post back. A worker posts CRYPTO_WORKER_READY (crypto-offload.ts) once its entry has loaded,
 * before it hands on any message.
 *
 * Invariants: each `{ id, job }` with a numeric id is answered once, `{ id, result: runCryptoJob(job) }`,
 * or `{ id, error: jobFailureOf(error, job) }` when the job is no job, throws, or its answer cannot be
 * posted: a code and a message without any value of the job (job-failure.ts), never the error's own text
 * (a DataCloneError quotes the value it could not copy). A job is refused as `runCryptoJob` refuses it on
 * the calling thread (the offload runs it there when no worker can start): none at all is a TypeError,
 * anything but a wire job is an at-rest job whose key must be 32 bytes (AT_REST_INVALID_KEY). Only its
 * frame is checked here (an op, an item list, a key or a key table of bytes): `runCryptoJob` judges each
 * item by itself, and the offload checks every answer against its job. A message without a numeric id is
 * ignored: nobody waits for it.
 * The job's keys (`key`, each of `keys`) are zeroed once it is answered or failed: `message` must be the
 * worker's own copy (a structured clone), never a caller's job, whose keys it would destroy.
 * Failure modes: throws only what `post` throws for the error answer itself (the worker then dies, and
 * its host reports it).
 */
import { invalidAtRestKey } from './at-rest-jobs';
import type { CryptoJob, CryptoJobResult } from './crypto-offload';
import { jobFailureOf, type CryptoJobFailure } from './job-failure';
import { runCryptoJob } from './run-crypto-job';

/** What a worker posts for one job. */
export type CryptoWorkerReply =
  | { readonly id: number; readonly result: CryptoJobResult }
  | { readonly id: number; readonly error: CryptoJobFailure };

// A message crossed a thread boundary: read by hand, field by field, before it is taken as a job.
const field = (value: unknown, name: string): unknown =>
  typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

/** Whether `job` has a job's frame; throws what `runCryptoJob` throws for it first (see the header). */
const isCryptoJob = (job: unknown): job is CryptoJob => {
  if (job === undefined || job === null) throw new TypeError('no crypto job');
  const op = field(job, 'op');
  const items = field(job, 'items');
  if (op === 'wireSeal' || op === 'wireOpen') {
    const keys = field(job, 'keys');
    return Array.isArray(items) && Array.isArray(keys) && keys.every(isBytes);
  }
  // `runAtRestJob` reads the key first: one that is not bytes is refused here as it refuses it there
  // (bytes of the wrong length are left to it).
  if (!isBytes(field(job, 'key'))) throw invalidAtRestKey();
  return (op === 'seal' || op === 'open') && Array.isArray(items);
};

/** Zeroes the keys `job` carries (bytes only: a job that is no job may carry anything). */
const forgetKeys = (job: unknown): void => {
  const key = field(job, 'key');
  if (isBytes(key)) key.fill(0);
  const keys = field(job, 'keys');
  if (Array.isArray(keys)) for (const k of keys) if (isBytes(k)) k.fill(0);
};

/** Answers one message a crypto worker received, through `post` (see the header). */
export function answerCryptoMessage(message: unknown, post: (reply: CryptoWorkerReply) => void): void {
  const id = field(message, 'id');
  if (typeof id !== 'number') return;
  const job = field(message, 'job');
  try {
    if (!isCryptoJob(job)) throw new TypeError('not a crypto job');
    post({ id, result: runCryptoJob(job) });
  } catch (error) {
    post({ id, error: jobFailureOf(error, job) });
  } finally {
    // The worker's own copy (the message was cloned to it), answered: its keys would otherwise stay in
    // the worker's memory until collected, long after the account that sent them locked.
    forgetKeys(job);
  }
}
