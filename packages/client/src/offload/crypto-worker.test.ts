// The Node crypto worker (`@hale/client/node`): the life of the process that runs it (a pending job
// keeps the process alive until it is answered, an idle worker does not, no `close()` needed), a
// worker that survives messages and jobs it cannot run, a dead worker replaced by a fresh one on the
// next job (but not in a crash loop, nor after close()), and worker replies checked against their job.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createNodeCryptoOffload,
  WORKER_DEATH_LIMIT,
  WORKER_DEATH_WINDOW_MS,
  type NodeCryptoOffload,
} from '../../node/crypto-worker';
import { CRYPTO_WORKER_READY, type CryptoJob } from './crypto-offload';

const CLIENT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = new URL('../../node/crypto-worker-entry.mjs', import.meta.url);
const SEAL_JOB: CryptoJob = {
  op: 'seal',
  key: new Uint8Array(32).fill(7),
  items: [{ context: { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' }, value: { note: 'n' } }],
};
/** What a seal job's outcome looks like (an envelope and the binding it was sealed with). */
const SEALED: unknown = {
  envelope: expect.stringMatching(/^v1\./) as unknown,
  bound: expect.any(String) as unknown,
};
/** Misbehaves on demand (see the file): `{ worker: 'exit' | 'throw' | 'malformed' | 'thread' }`. */
const MISBEHAVING = new URL('./misbehaving-worker.test-entry.mjs', import.meta.url);
const asks = (what: 'exit' | 'throw' | 'malformed' | 'thread'): CryptoJob => ({
  ...SEAL_JOB,
  items: [{ context: { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' }, value: { worker: what } }],
});
/** The thread id of the worker that answers the job. */
const threadOf = async (offload: NodeCryptoOffload): Promise<string> => {
  const result = await offload.run(asks('thread'));
  const sealed = result.op === 'seal' ? result.envelopes[0] : null;
  if (!sealed) throw new Error('no thread id');
  return sealed.envelope;
};
/** The child must be gone by then; a worker that keeps it alive makes it time out. */
const EXIT_WITHIN_MS = 50_000;

interface Ended {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `body` (inside an async function) in a fresh `node --import tsx` from packages/client. */
function runChild(body: string): Promise<Ended> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '-e', `(async () => {${body}})()`],
      { cwd: CLIENT_DIR, timeout: EXIT_WITHIN_MS, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const failed = error as (Error & { code?: unknown; signal?: unknown }) | null;
        resolve({
          code: failed === null ? 0 : typeof failed.code === 'number' ? failed.code : null,
          signal: failed !== null && typeof failed.signal === 'string' ? failed.signal : null,
          stdout,
          stderr,
        });
      },
    );
  });
}

describe('createNodeCryptoOffload and process lifetime', { timeout: 60_000 }, () => {
  // One child for the three cases, one after another: while the first awaits its job nothing else holds
  // the process, an offload left holding it keeps it from exiting, and the last is created as it ends.
  let child: Promise<Ended> | undefined;
  const lifetimes = () =>
    (child ??= runChild(`
      const { pathToFileURL } = await import('node:url');
      const { createNodeCryptoOffload } = await import('./node/crypto-worker.ts');
      const context = { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' };
      const job = (value) => ({ op: 'seal', key: new Uint8Array(32).fill(7), items: [{ context, value }] });
      const pending = await createNodeCryptoOffload().run(job({ note: 'n' }));
      console.log(JSON.stringify(pending));
      const workerUrl = pathToFileURL('src/offload/misbehaving-worker.test-entry.mjs');
      const offload = createNodeCryptoOffload({ workerUrl });
      const died = await offload.run(job({ worker: 'exit' })).then(() => 'answered', (e) => e.message);
      const result = await offload.run(job({ note: 'n' }));
      console.log(JSON.stringify({ died, result }));
      createNodeCryptoOffload();
      console.log('created');
    `));
  /** The child's exit and its printed lines, checked for every case. */
  const lines = async (): Promise<string[]> => {
    const { code, signal, stdout, stderr } = await lifetimes();
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    return stdout.trim().split('\n');
  };

  it('keeps the process alive for a pending job, then lets it exit without close()', async () => {
    const printed = JSON.parse((await lines())[0] ?? '') as { op: string; envelopes: unknown[] };
    expect(printed.op).toBe('seal');
    expect(printed.envelopes).toHaveLength(1);
    expect(printed.envelopes[0]).toMatchObject({ envelope: expect.stringMatching(/^v1\./) as unknown });
  });

  it('lets the process exit without close() after its worker died and a fresh one answered', async () => {
    const printed = JSON.parse((await lines())[1] ?? '') as {
      died: string;
      result: { envelopes: unknown[] };
    };
    expect(printed.died).toMatch(/exited with code 7/);
    expect(printed.result.envelopes[0]).toMatchObject({
      envelope: expect.stringMatching(/^v1\./) as unknown,
    });
  });

  it('lets the process exit when the worker never had a job', async () => {
    expect(await lines()).toHaveLength(3);
    expect((await lines())[2]).toBe('created');
  });
});

describe('crypto worker robustness', () => {
  it('answers an unreadable message with an error for its id when it has one, and keeps running', async () => {
    const worker = new Worker(ENTRY);
    try {
      const replies: unknown[] = [];
      const done = new Promise<void>((resolve, reject) => {
        worker.on('message', (m: { id?: unknown }) => {
          replies.push(m);
          if (m.id === 3) resolve();
        });
        worker.on('error', reject);
        worker.on('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
      });
      for (const message of [null, 'junk', { job: SEAL_JOB }, { id: 1 }, { id: 2, job: 42 }]) {
        worker.postMessage(message);
      }
      worker.postMessage({ id: 3, job: SEAL_JOB });
      await done;
      expect(replies).toEqual([
        // Once loaded, before any answer.
        CRYPTO_WORKER_READY,
        {
          id: 1,
          error: {
            code: 'WORKER_JOB_FAILED',
            message: 'crypto worker could not run the unknown job (TypeError)',
          },
        },
        // A job that is no job has no key either: refused as runCryptoJob refuses it on any thread.
        { id: 2, error: { code: 'AT_REST_INVALID_KEY', message: 'at-rest key must be 32 bytes' } },
        { id: 3, result: { op: 'seal', envelopes: [SEALED] } },
      ]);
    } finally {
      await worker.terminate();
    }
  });

  it('rejects a job whose key is not 32 bytes, and runs the next one', async () => {
    const offload = createNodeCryptoOffload();
    try {
      for (const key of [new Uint8Array(31), [7, 7] as unknown as Uint8Array]) {
        await expect(offload.run({ ...SEAL_JOB, key })).rejects.toThrow(/at-rest key must be 32 bytes/);
        await expect(offload.run({ op: 'open', key, items: [] })).rejects.toThrow(/at-rest key/);
      }
      const result = await offload.run(SEAL_JOB);
      expect(result.op).toBe('seal');
    } finally {
      await offload.close();
    }
  });
});

describe('a crypto worker that dies', () => {
  const offloads: NodeCryptoOffload[] = [];
  const misbehaving = () => {
    const offload = createNodeCryptoOffload({ workerUrl: MISBEHAVING });
    offloads.push(offload);
    return offload;
  };
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(offloads.splice(0).map((o) => o.close()));
  });

  it('fails the jobs it had, and the next job is answered by a fresh worker', async () => {
    const offload = misbehaving();
    const first = await threadOf(offload);
    // Both are pending on the worker when it exits: the second is never answered by it.
    await Promise.all([
      expect(offload.run(asks('exit'))).rejects.toThrow('crypto worker exited with code 7'),
      expect(offload.run(SEAL_JOB)).rejects.toThrow('crypto worker exited with code 7'),
    ]);

    const second = await threadOf(offload);
    expect(second).not.toBe(first);
    const result = await offload.run(SEAL_JOB);
    expect(result).toEqual({ op: 'seal', envelopes: [SEALED] });
    expect(await threadOf(offload)).toBe(second);
  });

  it('counts a worker that throws (error, then exit) as one death', async () => {
    const offload = misbehaving();
    for (let n = 0; n < WORKER_DEATH_LIMIT; n++) {
      await expect(offload.run(asks('throw'))).rejects.toThrow(
        'crypto worker threw outside a job (Error); it was replaced',
      );
    }
    // Counted twice, these three deaths would have been six: a crash loop.
    expect((await offload.run(SEAL_JOB)).op).toBe('seal');
  });

  it(`stops restarting after more than ${WORKER_DEATH_LIMIT} deaths within ${WORKER_DEATH_WINDOW_MS / 1000} s`, async () => {
    const offload = misbehaving();
    for (let n = 0; n <= WORKER_DEATH_LIMIT; n++) {
      await expect(offload.run(asks('exit'))).rejects.toThrow('crypto worker exited with code 7');
    }
    const loop = /crypto worker died 4 times within 60 s; not restarting it \(crash loop\)/;
    await expect(offload.run(SEAL_JOB)).rejects.toThrow(loop);
    await expect(offload.run(SEAL_JOB)).rejects.toThrow(loop);
  });

  it('restarts again once the crash loop has left the window (an app open for days recovers)', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const offload = misbehaving();
    for (let n = 0; n <= WORKER_DEATH_LIMIT; n++) {
      await expect(offload.run(asks('exit'))).rejects.toThrow(/code 7/);
    }
    await expect(offload.run(SEAL_JOB)).rejects.toThrow(/crash loop/);
    vi.advanceTimersByTime(WORKER_DEATH_WINDOW_MS - 1);
    await expect(offload.run(SEAL_JOB)).rejects.toThrow(/crash loop/);
    vi.advanceTimersByTime(1);
    expect((await offload.run(SEAL_JOB)).op).toBe('seal');
  });

  it('forgets deaths older than the window', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const offload = misbehaving();
    const die = async (times: number) => {
      for (let n = 0; n < times; n++) await expect(offload.run(asks('exit'))).rejects.toThrow(/code 7/);
    };
    await die(WORKER_DEATH_LIMIT);
    vi.advanceTimersByTime(WORKER_DEATH_WINDOW_MS);
    await die(WORKER_DEATH_LIMIT);
    expect((await offload.run(SEAL_JOB)).op).toBe('seal');
    // The window still holds the last three: one more is a crash loop.
    await die(1);
    await expect(offload.run(SEAL_JOB)).rejects.toThrow(/crash loop/);
  });

  it('does not restart after close(): pending and later jobs reject as closed', async () => {
    const offload = misbehaving();
    await threadOf(offload);
    const pending = expect(offload.run(SEAL_JOB)).rejects.toThrow('crypto offload is closed');
    await offload.close();
    await pending;
    await expect(offload.run(SEAL_JOB)).rejects.toThrow('crypto offload is closed');

    // Closed while its worker was dead (the next run would have restarted it): still closed.
    const dead = misbehaving();
    await expect(dead.run(asks('exit'))).rejects.toThrow(/code 7/);
    await dead.close();
    await expect(dead.run(SEAL_JOB)).rejects.toThrow('crypto offload is closed');
  });

  it('refuses a reply of the wrong shape for its job, and the worker goes on', async () => {
    const offload = misbehaving();
    const thread = await threadOf(offload);
    await expect(offload.run(asks('malformed'))).rejects.toThrow(
      'crypto offload answered a malformed seal reply: /envelopes/0',
    );
    expect(await threadOf(offload)).toBe(thread);
  });
});
