// The Node host adapter (`@hale/client/node`) reports a worker that threw outside any job, or sent a
// message that cannot be read, in its own words: the jobs it owed fail naming the error's class, never
// its text (an uncaught error in the worker may quote a job's values). `worker_threads` is replaced by an
// event emitter, as in crypto-worker-messageerror.test.ts: only the adapter's wiring is under test.
import type { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { CRYPTO_WORKER_READY, type CryptoJob } from './crypto-offload';

const workers = vi.hoisted(() => [] as EventEmitter[]);

vi.mock('node:worker_threads', async () => {
  const { EventEmitter: Emitter } = await import('node:events');
  class Worker extends Emitter {
    constructor() {
      super();
      workers.push(this);
    }
    postMessage(): void {
      // Silent: only the events the test emits answer.
    }
    terminate(): Promise<number> {
      return Promise.resolve(1);
    }
    ref(): void {}
    unref(): void {}
  }
  return { Worker };
});

const { createNodeCryptoOffload } = await import('../../node/crypto-worker');

const MARKER = 'WORKER-ERROR-PLAINTEXT-3f7b';
const job: CryptoJob = {
  op: 'seal',
  key: new Uint8Array(32).fill(7),
  items: [{ context: { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' }, value: { note: 'n' } }],
};

describe("createNodeCryptoOffload and the worker's own error text", () => {
  for (const [event, error, expected] of [
    [
      'error',
      new TypeError(`Cannot read properties of '${MARKER}'`),
      'crypto worker threw outside a job (TypeError); it was replaced',
    ],
    [
      'messageerror',
      new Error(`could not deserialize ${MARKER}`),
      'crypto worker sent a message that could not be read (Error); the jobs it was running failed and it was replaced (the batch can be retried)',
    ],
  ] as const) {
    it(`'${event}' fails the jobs naming the error's class only`, async () => {
      const offload = createNodeCryptoOffload();
      const pending = offload.run(job);
      // It started (a worker that never did runs its jobs here: worker-start-fallback.test.ts).
      workers.at(-1)!.emit('message', CRYPTO_WORKER_READY);
      workers.at(-1)!.emit(event, error);
      // As a worker that throws does: 'exit' follows its 'error' (and reports the death).
      if (event === 'error') workers.at(-1)!.emit('exit', 1);
      const reason: unknown = await pending.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(reason instanceof Error && reason.message).toBe(expected);
      expect(String(reason)).not.toContain(MARKER);
      await offload.close();
    });
  }
});
