// Access to a stream ending while a file for it is being enqueued (its chunks still being written to the
// device store). The purge of the stream removes the files queued for it when it runs; a file whose
// index entry was written only after that was missed by it: the enqueue answered a FileRef, and the
// file stayed listed on the device, its plaintext kept, for a stream this device may no longer write
// (its upload then refused, UPLOAD_REFUSED, until someone cancelled it).
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { isFileError } from './files';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, input, mapMeta, queuedDevice, until } from './queued-device.test-util';

const ACCOUNT = 'G'.repeat(22);
const STREAM = `${ACCOUNT}/document`;

describe('access to the stream ends while a file is being enqueued', () => {
  it('the enqueue is refused FORBIDDEN and nothing of the file stays on the device', async () => {
    const server = memoryBlobServer();
    const { meta, store, hooks } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    await d.files.uploadsRead();

    // The second chunk's write is held: the purge runs while the enqueue is under way.
    let reached!: () => void;
    let release!: () => void;
    const atWrite = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    hooks.beforeWrite = async (key) => {
      if (!key.endsWith('-p1')) return;
      delete hooks.beforeWrite;
      reached();
      await released;
    };
    const enqueued = d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10), 'lab report.jpg'));
    await atWrite;
    d.writable.why = 'revoked';
    d.purge(STREAM);
    await new Promise((r) => setTimeout(r, 20));
    release();

    const outcome = await enqueued.catch((e: unknown) => e);
    expect(isFileError(outcome) && outcome.code).toBe('FORBIDDEN');
    await until(() => d.files.uploads().length === 0, 'not listed');
    expect([...store.keys()].filter((k) => k.startsWith('upload-chunk-'))).toEqual([]);
    expect(server.calls).toEqual([]);
  });
});
