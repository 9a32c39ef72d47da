/**
 * A device's bulk cryptography on a Node worker thread (`worker_threads`): at-rest seals and opens of
 * the storage wrapper and wire seals and opens of the sync engine (`runCryptoJob`), so RxDB keeps the
 * main thread and tweetnacl gets a core of its own. Node-only, so it lives outside src/ and is imported
 * as `@hale/client/node`; browsers run `runCryptoJob` in a Web Worker the same way.
 *
 * Invariants: each job is answered once, by id, in any order; keys travel with each job (copied into
 * the worker's memory and dropped after the batch); the worker keeps the process alive only while a
 * job is pending, so a process that never calls `close()` still exits once its jobs are answered.
 * Failure modes: a job that throws in the worker, a job that cannot be copied to it, a message the
 * worker cannot read, or a worker that exits rejects (the at-rest wrapper reports
 * AT_REST_ENCRYPT_FAILED, the sync engine fails the batch and RxDB retries it); nothing is half-applied,
 * because callers write only after every value of their batch is back.
 */
import { Worker } from 'node:worker_threads';
import type { CryptoJob, CryptoJobResult, CryptoOffload } from '../src/index';

export interface NodeCryptoOffload extends CryptoOffload {
  /** Stops the worker; pending jobs reject. */
  close(): Promise<void>;
}

interface Reply {
  readonly id: number;
  readonly result?: CryptoJobResult;
  readonly error?: string;
}

interface Waiter {
  readonly resolve: (r: CryptoJobResult) => void;
  readonly reject: (e: Error) => void;
}

const isReply = (m: unknown): m is Reply =>
  typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'number';

export function createNodeCryptoOffload(): NodeCryptoOffload {
  const worker = new Worker(new URL('./crypto-worker-entry.mjs', import.meta.url));
  const pending = new Map<number, Waiter>();
  let nextId = 1;
  let failure: Error | null = null;
  // The worker keeps the process alive only while a job is pending: an idle worker must not (tests,
  // CLIs that never close it), a pending job must (its caller is waiting for the answer).
  const add = (id: number, p: Waiter): void => {
    pending.set(id, p);
    if (pending.size === 1) worker.ref();
  };
  const settle = (id: number): void => {
    if (pending.delete(id) && pending.size === 0) worker.unref();
  };
  const failAll = (error: Error): void => {
    failure = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    worker.unref();
  };
  worker.on('message', (message: unknown) => {
    if (!isReply(message)) return;
    const p = pending.get(message.id);
    if (!p) return;
    settle(message.id);
    if (message.result !== undefined) p.resolve(message.result);
    else p.reject(new Error(message.error ?? 'crypto worker failed'));
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => failAll(new Error(`crypto worker exited with code ${code}`)));
  // After the listeners: adding a 'message' listener refs the worker again.
  worker.unref();
  return {
    run(job: CryptoJob): Promise<CryptoJobResult> {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<CryptoJobResult>((resolve, reject) => {
        add(id, { resolve, reject });
        try {
          worker.postMessage({ id, job });
        } catch (error) {
          // A value that cannot be copied to the worker (never the case for stored JSON): fail this job only.
          settle(id);
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    },
    async close(): Promise<void> {
      await worker.terminate();
    },
  };
}
