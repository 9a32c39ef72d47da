/**
 * A device's bulk cryptography on a Node worker thread (`worker_threads`): at-rest seals and opens of
 * the storage wrapper and wire seals and opens of the sync engine (`runCryptoJob`), so RxDB keeps the
 * main thread and tweetnacl gets a core of its own. Node-only, so it lives outside src/ and is imported
 * as `@hale/client/node`; browsers run `runCryptoJob` in a Web Worker the same way.
 *
 * Invariants: each job is answered once, by id, in any order; keys travel with each job (copied into
 * the worker's memory and dropped after the batch). Failure modes: a job that throws in the worker, a
 * job that cannot be copied to it, or a worker that exits rejects (the at-rest wrapper reports
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

const isReply = (m: unknown): m is Reply =>
  typeof m === 'object' && m !== null && typeof (m as { id?: unknown }).id === 'number';

export function createNodeCryptoOffload(): NodeCryptoOffload {
  const worker = new Worker(new URL('./crypto-worker-entry.mjs', import.meta.url));
  // An idle worker must not keep a process alive (tests, CLIs); busy jobs still complete.
  worker.unref();
  const pending = new Map<number, { resolve: (r: CryptoJobResult) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failure: Error | null = null;
  const failAll = (error: Error): void => {
    failure = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.on('message', (message: unknown) => {
    if (!isReply(message)) return;
    const p = pending.get(message.id);
    if (!p) return;
    pending.delete(message.id);
    if (message.result !== undefined) p.resolve(message.result);
    else p.reject(new Error(message.error ?? 'crypto worker failed'));
  });
  worker.on('error', (error) => failAll(error));
  worker.on('exit', (code) => failAll(new Error(`crypto worker exited with code ${code}`)));
  return {
    run(job: CryptoJob): Promise<CryptoJobResult> {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<CryptoJobResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        try {
          worker.postMessage({ id, job });
        } catch (error) {
          // A value that cannot be copied to the worker (never the case for stored JSON): fail this job only.
          pending.delete(id);
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    },
    async close(): Promise<void> {
      await worker.terminate();
    },
  };
}
