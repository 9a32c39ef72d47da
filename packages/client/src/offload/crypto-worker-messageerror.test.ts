// The Node host adapter (`@hale/client/node`) forwards a worker's 'messageerror' to the offload: a reply
// that cannot be deserialised fails the jobs the worker owes at once, typed, instead of at their budget.
// `worker_threads` is replaced by an event emitter: a real worker cannot be made to send an undecodable
// message on purpose, and only the adapter's wiring is under test here.
import { EventEmitter } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { CRYPTO_WORKER_READY, type CryptoJob } from './crypto-offload';
import { isCryptoOffloadError } from './worker-offload';

const workers = vi.hoisted(() => [] as Array<EventEmitter & { terminated: boolean }>);

vi.mock('node:worker_threads', async () => {
  const { EventEmitter: Emitter } = await import('node:events');
  class Worker extends Emitter {
    terminated = false;
    constructor() {
      super();
      workers.push(this);
    }
    postMessage(): void {
      // Silent: only the events the test emits answer.
    }
    terminate(): Promise<number> {
      this.terminated = true;
      return Promise.resolve(1);
    }
    ref(): void {}
    unref(): void {}
  }
  return { Worker };
});

const { createNodeCryptoOffload } = await import('../../node/crypto-worker');

const job: CryptoJob = {
  op: 'seal',
  key: new Uint8Array(32).fill(7),
  items: [{ context: { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' }, value: { note: 'n' } }],
};

describe("createNodeCryptoOffload and a worker's 'messageerror'", () => {
  it('fails the pending jobs with WORKER_MESSAGE_UNREADABLE and replaces the worker', async () => {
    const offload = createNodeCryptoOffload();
    const pending = [offload.run(job), offload.run(job)];
    const worker = workers[0];
    expect(worker).toBeInstanceOf(EventEmitter);
    // It started (a worker that never did runs its jobs here: worker-start-fallback.test.ts).
    worker!.emit('message', CRYPTO_WORKER_READY);
    worker!.emit('messageerror', new Error('could not deserialize'));
    for (const result of await Promise.allSettled(pending)) {
      expect(result.status).toBe('rejected');
      const reason = result.status === 'rejected' ? (result.reason as unknown) : undefined;
      expect(isCryptoOffloadError(reason) && reason.code).toBe('WORKER_MESSAGE_UNREADABLE');
    }
    expect(worker!.terminated).toBe(true);
    const next = offload.run(job);
    expect(workers).toHaveLength(2);
    await offload.close();
    await expect(next).rejects.toThrow('crypto offload is closed');
  });
});
