/**
 * The device's bulk cryptography on a Web Worker: `webWorkerOffload(() => new Worker(url))` on the page,
 * `startCryptoWorker(self)` in the worker's entry module. The offload (one worker at a time, jobs in
 * flight, budgets, crash-loop limit, close) is @hale/client's `createWorkerOffload`; this file adapts a
 * Web Worker to it.
 *
 * Failure modes: a worker that fails to load never says it is ready, and its jobs run on the page; an
 * unreadable message (`messageerror`) fails the jobs in flight with WORKER_MESSAGE_UNREADABLE and the
 * worker is replaced; an error in the worker fails its jobs naming no text of it.
 */
import {
  CRYPTO_WORKER_READY,
  answerCryptoMessage,
  createWorkerOffload,
  type WorkerOffload,
  type WorkerOffloadOptions,
} from '@hale/client/advanced';
import { loadSodiumSecretbox, useSecretbox } from '@hale/crypto';

/** The part of a Web Worker (`new Worker(url, { type: 'module' })`) the offload uses. */
export interface WebWorkerLike {
  onmessage: ((ev: { data: unknown }) => void) | null;
  onmessageerror: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  postMessage(message: unknown): void;
  terminate(): void;
}

export function webWorkerOffload(
  makeWorker: () => WebWorkerLike,
  options: WorkerOffloadOptions = {},
): WorkerOffload {
  return createWorkerOffload((events) => {
    const worker = makeWorker();
    worker.onmessage = (ev) => events.message(ev.data);
    worker.onmessageerror = (ev) => events.unreadable(ev);
    worker.onerror = () => events.died(new Error('the crypto Web Worker failed'));
    return { post: (message) => worker.postMessage(message), terminate: () => worker.terminate() };
  }, options);
}

/** The worker global the entry module passes (`self`). */
export interface WorkerScopeLike {
  onmessage: ((ev: { data: unknown }) => void) | null;
  postMessage(message: unknown): void;
}

/**
 * The worker side: installs libsodium's secretbox where it loads (else tweetnacl, the same bytes),
 * then answers each job, after saying it is ready. Jobs that arrive while it loads wait, in order.
 */
export async function startCryptoWorker(scope: WorkerScopeLike): Promise<void> {
  const post = (message: unknown): void => scope.postMessage(message);
  const early: unknown[] = [];
  scope.onmessage = (ev) => void early.push(ev.data);
  const secretbox = await loadSodiumSecretbox();
  if (secretbox) useSecretbox(secretbox);
  scope.onmessage = (ev) => answerCryptoMessage(ev.data, post);
  post(CRYPTO_WORKER_READY);
  for (const message of early.splice(0)) answerCryptoMessage(message, post);
}
