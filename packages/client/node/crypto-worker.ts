/**
 * A device's bulk cryptography on a Node worker thread (`worker_threads`): at-rest seals and opens of
 * the storage wrapper and wire seals and opens of the sync engine (`runCryptoJob`), so RxDB keeps the
 * main thread and tweetnacl gets a core of its own. Node-only, so it lives outside src/ and is imported
 * as `@hale/client/node`. The offload itself (one worker at a time, jobs in flight, job budgets,
 * crash-loop limit, close) is `createWorkerOffload` (src/offload/worker-offload.ts), which a browser host
 * drives the same way over a Web Worker; this file only adapts `worker_threads` to it.
 *
 * Invariants (beyond the offload's)
 * - The worker keeps the process alive only while a job is pending, so a process that never calls
 *   `close()` still exits once its jobs are answered.
 * - 'exit' reports the worker dead, in the words of the 'error' before it if there was one (an uncaught
 *   exception: 'error', then 'exit'). Not 'error' itself: it may overtake the worker's last messages (its
 *   CRYPTO_WORKER_READY among them, which tells a worker that started from one that could not), while
 *   'exit' comes after all of them. 'messageerror' reports an unreadable message (a reply that
 *   cannot be deserialised names no job, which would otherwise wait for its budget): its pending jobs fail
 *   with CryptoOffloadError WORKER_MESSAGE_UNREADABLE and the worker is replaced.
 * - The jobs of a worker that threw fail naming the error's class only, never its text (an uncaught
 *   error in the worker may quote a job's values); an exit names its exit code. (A worker that does so
 *   before it started, e.g. a `workerUrl` that does not load, fails none: worker-offload.ts.)
 */
import { Worker } from 'node:worker_threads';
import {
  createWorkerOffload,
  type WorkerOffload,
  type WorkerOffloadOptions,
} from '../src/offload/worker-offload';
import { errorClassOf } from '../src/offload/job-failure';

export {
  JOB_TIMEOUT_BASE_MS,
  JOB_TIMEOUT_PER_ITEM_MS,
  WORKER_DEATH_LIMIT,
  WORKER_DEATH_WINDOW_MS,
  jobTimeoutMs,
  type JobTimeout,
} from '../src/offload/worker-offload';

/** The crypto offload `createNodeCryptoOffload` answers: `WorkerOffload` over a Node worker thread. */
export type NodeCryptoOffload = WorkerOffload;

/** Options of `createNodeCryptoOffload`: the offload's own, and the worker's entry and implementations. */
export interface NodeCryptoOffloadOptions extends WorkerOffloadOptions {
  /**
   * The worker's entry module (default: `crypto-worker-entry.mjs` next to this file), for hosts that
   * bundle it elsewhere (Electron, bundlers). It must answer each `{id, job}` message with
   * `{id, result: runCryptoJob(job)}` or `{id, error: jobFailureOf(error, job)}`
   * (src/offload/job-failure.ts), and should post CRYPTO_WORKER_READY once loaded: what
   * `answerCryptoMessage` and the default entry do.
   */
  readonly workerUrl?: URL;
  /**
   * The worker's secretbox: `libsodium` (default: its WebAssembly build, tweetnacl's bytes, faster; the
   * default entry falls back to tweetnacl where it does not load) or `tweetnacl` (the reference).
   */
  readonly secretbox?: 'libsodium' | 'tweetnacl';
  /**
   * The worker's SHA-256 / HMAC-SHA256: `node` (default: node:crypto's, @noble/hashes' outputs, faster)
   * or `noble` (the reference).
   */
  readonly hashes?: 'node' | 'noble';
}

const DEFAULT_ENTRY = new URL('./crypto-worker-entry.mjs', import.meta.url);

/**
 * A crypto offload (`Platform.cryptoOffload`) running its jobs on a `worker_threads` worker (see the
 * header); the first worker starts at once.
 * - Jobs fail with CryptoOffloadError (WORKER_JOB_FAILED, WORKER_MESSAGE_UNREADABLE, …) or the worker's
 *   AtRestError; once no worker can start, jobs run on the calling thread.
 */
export function createNodeCryptoOffload(options: NodeCryptoOffloadOptions = {}): NodeCryptoOffload {
  const { workerUrl, secretbox = 'libsodium', hashes = 'node', ...rest } = options;
  const entry = workerUrl ?? DEFAULT_ENTRY;
  return createWorkerOffload((events) => {
    const worker = new Worker(entry, { workerData: { secretbox, hashes } });
    worker.on('message', (message: unknown) => events.message(message));
    let threw: string | null = null;
    worker.on('error', (error) => void (threw ??= errorClassOf(error)));
    worker.on('messageerror', (error) => events.unreadable(error));
    worker.on('exit', (code) =>
      events.died(
        new Error(
          threw === null
            ? `crypto worker exited with code ${code}`
            : `crypto worker threw outside a job (${threw}); it was replaced`,
        ),
      ),
    );
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    return {
      post: (message) => worker.postMessage(message),
      terminate: () => worker.terminate(),
      hold: (held) => (held ? worker.ref() : worker.unref()),
    };
  }, rest);
}
