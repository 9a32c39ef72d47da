// The Node crypto worker (`@hale/client/node`): the life of the process that runs it (a pending job
// keeps the process alive until it is answered, an idle worker does not, no `close()` needed), and a
// worker that survives messages and jobs it cannot run.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createNodeCryptoOffload } from '../../node/crypto-worker';
import type { CryptoJob } from './crypto-offload';

const CLIENT_DIR = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = new URL('../../node/crypto-worker-entry.mjs', import.meta.url);
const SEAL_JOB: CryptoJob = {
  op: 'seal',
  key: new Uint8Array(32).fill(7),
  items: [{ context: { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' }, value: { note: 'n' } }],
};
/** The child must be gone by then; a worker that keeps it alive makes it time out. */
const EXIT_WITHIN_MS = 8_000;

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

describe('createNodeCryptoOffload and process lifetime', () => {
  it('keeps the process alive for a pending job, then lets it exit without close()', async () => {
    const script = `
      const { createNodeCryptoOffload } = await import('./node/crypto-worker.ts');
      const offload = createNodeCryptoOffload();
      const result = await offload.run({
        op: 'seal',
        key: new Uint8Array(32).fill(7),
        items: [{ context: { db: 'd', c: 'c', i: 'x', f: 'secret', r: '1-a' }, value: { note: 'n' } }],
      });
      console.log(JSON.stringify(result));
    `;
    const { code, signal, stdout, stderr } = await runChild(script);
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    const printed = JSON.parse(stdout.trim()) as { op: string; envelopes: unknown[] };
    expect(printed.op).toBe('seal');
    expect(printed.envelopes).toHaveLength(1);
    expect(String(printed.envelopes[0])).toMatch(/^v1\./);
  });

  it('lets the process exit when the worker never had a job', async () => {
    const script = `
      const { createNodeCryptoOffload } = await import('./node/crypto-worker.ts');
      createNodeCryptoOffload();
      console.log('created');
    `;
    const { code, signal, stdout, stderr } = await runChild(script);
    expect({ code, signal }, stderr).toEqual({ code: 0, signal: null });
    expect(stdout.trim()).toBe('created');
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
        { id: 1, error: expect.any(String) as unknown },
        { id: 2, error: expect.any(String) as unknown },
        { id: 3, result: { op: 'seal', envelopes: [expect.stringMatching(/^v1\./) as unknown] } },
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
