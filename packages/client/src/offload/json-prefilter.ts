/**
 * The items of a seal job that may go to a worker, and the answer to the whole job from the worker's.
 *
 * A value reaches a worker as its structured clone, which is not always the value: a class instance
 * arrives as a plain object and a symbol key is dropped (so the worker would seal what this thread
 * refuses), and a function cannot be copied at all (so the post would fail the whole job, its error
 * quoting the function's source). A seal refuses every such value (`assertJsonValue`), so it is refused
 * here, before the job is posted, with the answer this thread gives (null). What remains is plain JSON,
 * which structured clone copies unchanged: the worker answers for it what this thread would.
 *
 * Invariants: the answer has one outcome per item of the job, in order; an item not sent answers null;
 * a sent item answers what the worker answered for it. Open jobs carry stored text, not values: they are
 * sent whole. Failure mode: none of its own; a reply is merged only after `checkCryptoJobResult`
 * checked it against the job that was sent.
 */
import { assertJsonValue } from '@hale/crypto';
import type { CryptoJob, CryptoJobResult } from './crypto-offload';

/** Every item sent (`answer` passes the reply on), some, or none (`answer` gets null). */
export interface Prefiltered {
  /** The job to post (the items that are plain JSON), or null when no item is. */
  readonly send: CryptoJob | null;
  /** The whole job's answer from the reply to `send` (null when nothing was sent). */
  readonly answer: (sent: CryptoJobResult | null) => CryptoJobResult;
}

const isJson = (value: unknown): boolean => {
  try {
    assertJsonValue(value);
    return true;
  } catch {
    return false;
  }
};

/** The outcomes of all items: null where `keep` is false, else the next of `sent`, in order. */
function refill<T>(keep: readonly boolean[], sent: readonly T[]): Array<T | null> {
  let n = 0;
  return keep.map((k) => (k ? (sent[n++] ?? null) : null));
}

const whole = (job: CryptoJob): Prefiltered => ({
  send: job,
  answer: (sent) => {
    if (sent === null) throw new Error('crypto offload: a job sent whole has no answer');
    return sent;
  },
});

export function prefilterJson(job: CryptoJob): Prefiltered {
  if (job.op === 'seal') {
    const keep = job.items.map((item) => isJson(item.value));
    if (keep.every(Boolean)) return whole(job);
    const items = job.items.filter((_, i) => keep[i]);
    return {
      send: items.length > 0 ? { ...job, items } : null,
      answer: (sent) => ({ op: 'seal', envelopes: refill(keep, sent?.op === 'seal' ? sent.envelopes : []) }),
    };
  }
  if (job.op === 'wireSeal') {
    const keep = job.items.map((item) => isJson(item.content));
    if (keep.every(Boolean)) return whole(job);
    const items = job.items.filter((_, i) => keep[i]);
    return {
      send: items.length > 0 ? { ...job, items } : null,
      answer: (sent) => ({ op: 'wireSeal', items: refill(keep, sent?.op === 'wireSeal' ? sent.items : []) }),
    };
  }
  return whole(job);
}
