// A crypto worker that never answers a job (a job lost inside it, or a thread stuck in a loop) must not
// stall every seal and open for good: once the job's time is up it fails like a worker death (the
// at-rest wrapper then refuses the write as AT_REST_ENCRYPT_FAILED and stores nothing), the stuck
// worker is terminated and the next job gets a fresh one. The clock is Vitest's fake `setTimeout`
// (nothing here waits for real time), except in the child process, whose worker never answers. Each
// worker here has started (answered a job) before time is moved on: one whose budget passes before it
// started is a worker that could not start (worker-start-fallback.test.ts), and its jobs run here.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import {
  JOB_TIMEOUT_BASE_MS,
  JOB_TIMEOUT_PER_ITEM_MS,
  WORKER_DEATH_LIMIT,
  createNodeCryptoOffload,
  type NodeCryptoOffload,
  type NodeCryptoOffloadOptions,
} from '../../node/crypto-worker';
import { wrapWithAtRestEncryption } from '../store/at-rest-encryption';
import { expectAtRest, insertAll, openInstance, rawSchemaOf, type Raw } from '../store/at-rest.test-util';
import { sealJob as sealJobOf, secretDoc, secretSchema } from './offload.test-util';

const CLIENT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const MISBEHAVING = new URL('./misbehaving-worker.test-entry.mjs', import.meta.url);
/** A seal job of `items` values; the worker misbehaves as `what` says (see the entry). */
const sealJob = (items = 1, what?: 'hang' | 'spin' | 'thread') =>
  sealJobOf(items, what === undefined ? undefined : { worker: what });
const threadOf = async (offload: NodeCryptoOffload): Promise<string> => {
  const result = await offload.run(sealJob(1, 'thread'));
  const sealed = result.op === 'seal' ? result.envelopes[0] : null;
  if (!sealed) throw new Error('no thread id');
  return sealed.envelope;
};
/** Lets the worker's messages and the promise callbacks run (setImmediate is not faked). */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Whether `promise` has settled by now; never waits for it. */
const settled = (promise: Promise<unknown>) => {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
};
const budget = (items: number) => JOB_TIMEOUT_BASE_MS + JOB_TIMEOUT_PER_ITEM_MS * items;
const NO_ANSWER = /crypto worker did not answer a seal job of \d+ items? within [\d.]+ s/;

describe('a crypto worker that never answers', () => {
  const offloads: NodeCryptoOffload[] = [];
  const misbehaving = (options: NodeCryptoOffloadOptions = {}) => {
    const offload = createNodeCryptoOffload({ workerUrl: MISBEHAVING, ...options });
    offloads.push(offload);
    return offload;
  };
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(offloads.splice(0).map((o) => o.close()));
  });

  it('fails a job lost in the worker once its time is up, replaces the worker, and later jobs succeed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const offload = misbehaving();
    const first = await threadOf(offload);
    const lost = offload.run(sealJob(1, 'hang'));
    const lostDone = settled(lost);
    // The worker is still responsive: a job after the lost one is answered.
    expect((await offload.run(sealJob(3))).op).toBe('seal');
    vi.advanceTimersByTime(budget(1) - 1);
    await turn();
    expect(lostDone()).toBe(false);
    vi.advanceTimersByTime(1);
    await expect(lost).rejects.toThrow(NO_ANSWER);

    const second = await threadOf(offload);
    expect(second).not.toBe(first);
    const result = await offload.run(sealJob(2));
    expect(result).toEqual({
      op: 'seal',
      envelopes: [0, 1].map(() => ({
        envelope: expect.stringMatching(/^v1\./) as unknown,
        bound: expect.any(String) as unknown,
      })),
    });
  });

  it('terminates a worker stuck in a loop: its job and the jobs queued behind it fail, the next one succeeds', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const offload = misbehaving();
    const first = await threadOf(offload);
    const stuck = offload.run(sealJob(1, 'spin'));
    const behind = offload.run(sealJob(5));
    await turn();
    vi.advanceTimersByTime(budget(1));
    await expect(stuck).rejects.toThrow(NO_ANSWER);
    await expect(behind).rejects.toThrow(NO_ANSWER);
    expect(await threadOf(offload)).not.toBe(first);
    expect((await offload.run(sealJob(5))).op).toBe('seal');
  });

  it('gives a job time for its items and for the items queued ahead of it in the worker', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const offload = misbehaving({ jobTimeout: { baseMs: 1_000, perItemMs: 10 } });
    await threadOf(offload);
    // The worker runs one job at a time: 40 items stuck ahead, then 60 of its own.
    const ahead = offload.run(sealJob(40, 'spin'));
    const own = offload.run(sealJob(60));
    const aheadDone = settled(ahead);
    const ownDone = settled(own);
    vi.advanceTimersByTime(1_000 + 10 * 40 - 1);
    await turn();
    expect([aheadDone(), ownDone()]).toEqual([false, false]);
    vi.advanceTimersByTime(1);
    await expect(ahead).rejects.toThrow('crypto worker did not answer a seal job of 40 items within 1.4 s');
    await expect(own).rejects.toThrow('crypto worker did not answer a seal job of 40 items within 1.4 s');

    // Alone in a fresh worker, a large job is not failed before its own budget.
    await threadOf(offload);
    const large = offload.run(sealJob(500, 'spin'));
    const largeDone = settled(large);
    vi.advanceTimersByTime(1_000 + 10 * 500 - 1);
    await turn();
    expect(largeDone()).toBe(false);
    vi.advanceTimersByTime(1);
    await expect(large).rejects.toThrow('crypto worker did not answer a seal job of 500 items within 6 s');
  });

  it('counts a worker that stopped answering as a death (a worker that hangs on every job is a crash loop)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const offload = misbehaving();
    for (let n = 0; n <= WORKER_DEATH_LIMIT; n++) {
      await threadOf(offload);
      const lost = offload.run(sealJob(1, 'hang'));
      vi.advanceTimersByTime(budget(1));
      await expect(lost).rejects.toThrow(NO_ANSWER);
    }
    await expect(offload.run(sealJob(1))).rejects.toThrow(/crash loop/);
  });

  it('refuses an at-rest write whose worker stopped answering, stores nothing, and writes on a fresh worker', async () => {
    const schema = secretSchema<Record<string, unknown>>();
    const base = getRxStorageMemory();
    const offload = misbehaving();
    const key = new Uint8Array(32).fill(9);
    const writer = await openInstance(
      wrapWithAtRestEncryption({ storage: base, key, offload }),
      'hang',
      schema,
    );
    const raw = await openInstance<Raw>(base, 'hang', rawSchemaOf(schema));
    await threadOf(offload);
    // The first value of the batch is the one the misbehaving worker never answers.
    const docs = Array.from({ length: 20 }, (_, i) =>
      secretDoc<Record<string, unknown>>(`d${i}`, i === 0 ? { worker: 'hang' } : { note: `${i}` }),
    );

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const write = insertAll(writer, docs);
    await turn();
    vi.advanceTimersByTime(budget(docs.length));
    vi.useRealTimers();
    const error = await expectAtRest(write, 'AT_REST_ENCRYPT_FAILED');
    expect(error.message).toMatch(NO_ANSWER);
    expect(
      await raw.findDocumentsById(
        docs.map((d) => d.id),
        true,
      ),
    ).toEqual([]);

    const next = docs.slice(1);
    expect((await insertAll(writer, next)).error).toEqual([]);
    expect(
      (
        await raw.findDocumentsById(
          next.map((d) => d.id),
          true,
        )
      ).length,
    ).toBe(next.length);
  });
});

describe('a worker that never answers and the life of the process', () => {
  it('lets the process exit once the job failed, without close()', async () => {
    const script = `
      const { pathToFileURL } = await import('node:url');
      const { createNodeCryptoOffload } = await import('./node/crypto-worker.ts');
      const workerUrl = pathToFileURL('src/offload/misbehaving-worker.test-entry.mjs');
      const offload = createNodeCryptoOffload({ workerUrl, jobTimeout: { baseMs: 300, perItemMs: 100 } });
      const context = { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' };
      const job = (values) => ({ op: 'seal', key: new Uint8Array(32).fill(7), items: values.map((value) => ({ context, value })) });
      // A first job of 100 items gives the worker 10 s to load and start; the stuck one is its second.
      await offload.run(job(Array.from({ length: 100 }, () => ({ note: 'n' }))));
      console.log(await offload.run(job([{ worker: 'spin' }])).then(() => 'answered', (e) => e.message));
    `;
    const ended = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', '-e', `(async () => {${script}})()`],
        { cwd: CLIENT_DIR, timeout: 20_000, killSignal: 'SIGKILL' },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
            stdout,
            stderr,
          }),
      );
    });
    expect({ code: ended.code, stdout: ended.stdout.trim() }, ended.stderr).toEqual({
      code: 0,
      stdout: 'crypto worker did not answer a seal job of 1 item within 0.4 s; it was stopped and replaced',
    });
  }, 30_000);
});
