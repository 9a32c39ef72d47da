// A purge of a stream (access to it ended) that comes when the upload queue cannot do it at once is owed,
// not lost: recorded in `upload-purges` and done as soon as the queue can, by this session or the next.
// Three windows: the session is locked (or the queue stopped) when the purge comes; the stored queue
// could not be read at start (an I/O error that passes by the next session); and a file's index entry
// lands after the purge looked at the queue (an enqueue under way). Before, the first two returned
// without a trace, and the third relied on the session's writability answer and a cancel that may fail:
// either way the file stayed queued with its plaintext for a stream whose records were purged, listed at
// the next start and even sent.
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { isFileError } from './files';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, input, mapMeta, queuedDevice, until } from './queued-device.test-util';

const ACCOUNT = 'K'.repeat(22);
const STREAM = `${ACCOUNT}/document`;
const MESSAGES = `${ACCOUNT}/message`;

const chunksOf = (store: Map<string, string>, blobId: string): string[] =>
  [...store.keys()].filter((k) => k.startsWith(`upload-chunk-${blobId}-`));

const purgeRecord = (store: Map<string, string>): unknown => {
  const text = store.get('upload-purges');
  return text === undefined ? null : (JSON.parse(text) as unknown);
};

const sent = (calls: readonly string[]): string[] => calls.filter((c) => /^(createBlob|putChunk)/.test(c));

describe('a purge while the session is locked', () => {
  for (const how of ['locked, the queue not told yet', 'locked, the queue stopped'] as const) {
    it(`is recorded and done by the next session (${how})`, async () => {
      const server = memoryBlobServer();
      const { meta, store } = mapMeta();
      const d = queuedDevice(server.api, meta, ACCOUNT);
      const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));
      const kept = await d.files.enqueue({ ...input(fileBytes(100, 2), 'note.jpg'), type: 'message' });

      d.lock();
      // The session tells the queue of a lock at its next status change: the queue stops then.
      if (how === 'locked, the queue stopped') d.set(false);
      d.purge(STREAM);
      await until(() => purgeRecord(store) !== null, 'the purge recorded');
      expect(purgeRecord(store)).toEqual([{ blobId: ref.blobId, stream: STREAM }]);
      // Locked: this session removes nothing more.
      await new Promise((r) => setTimeout(r, 50));
      expect(d.reports).toEqual([]);

      const next = queuedDevice(server.api, meta, ACCOUNT);
      expect(await next.files.uploadsRead()).toBe(true);
      expect(next.files.uploads().map((u) => u.blobId)).toEqual([kept.blobId]);
      expect(chunksOf(store, ref.blobId)).toEqual([]);
      expect(next.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_PURGED', ref.blobId]]);
      expect(store.has('upload-purges')).toBe(false);
      next.set(true);
      await until(() => next.files.uploads().length === 0, 'the other file uploaded');
      expect([...server.manifests.keys()]).toEqual([kept.blobId]);
    });
  }
});

describe('a purge while the stored queue could not be read', () => {
  it('is recorded for the stream, beside a purge an earlier session left, and done by the next session that reads it', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const first = queuedDevice(server.api, meta, ACCOUNT);
    const doc = await first.files.enqueue(input(fileBytes(100, 1), 'referral.jpg'));
    const note = await first.files.enqueue({ ...input(fileBytes(100, 2), 'note.jpg'), type: 'message' });
    const lab = await first.files.enqueue({ ...input(fileBytes(100, 3), 'lab.jpg'), type: 'lab-result' });
    // A purge whose removal the store refuses, cut off by a lock: recorded for the next session.
    faults.failIndexWrites = 1;
    first.purge(STREAM);
    await until(() => first.reports.length === 1, 'the removal failed');
    first.lock();
    expect(purgeRecord(store)).toEqual([{ blobId: doc.blobId, stream: STREAM }]);

    // This session cannot read the stored queue (an I/O error): it lists nothing, knows no file.
    faults.failIndexReads = 1;
    const second = queuedDevice(server.api, meta, ACCOUNT);
    expect(await second.files.uploadsRead()).toBe(false);
    second.purge(MESSAGES);
    await until(() => JSON.stringify(purgeRecord(store)).includes(MESSAGES), 'the purge recorded');
    // The earlier session's record is kept: this one never read it.
    expect(purgeRecord(store)).toEqual([{ blobId: doc.blobId, stream: STREAM }, { stream: MESSAGES }]);
    second.lock();

    const third = queuedDevice(server.api, meta, ACCOUNT);
    expect(await third.files.uploadsRead()).toBe(true);
    expect(third.files.uploads().map((u) => u.blobId)).toEqual([lab.blobId]);
    expect(chunksOf(store, doc.blobId)).toEqual([]);
    expect(chunksOf(store, note.blobId)).toEqual([]);
    expect(third.reports.map((r) => [r.code, r.id])).toEqual([
      ['UPLOAD_PURGED', doc.blobId],
      ['UPLOAD_PURGED', note.blobId],
    ]);
    expect(store.has('upload-purges')).toBe(false);
    third.set(true);
    await until(() => third.files.uploads().length === 0, 'the other file uploaded');
    expect([...server.manifests.keys()]).toEqual([lab.blobId]);
  });

  it('a record the store refuses at first is written again after the backoff', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const first = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await first.files.enqueue(input(fileBytes(100, 1), 'referral.jpg'));
    first.lock();

    faults.failIndexReads = 1;
    faults.failPurgeWrites = 2;
    const second = queuedDevice(server.api, meta, ACCOUNT);
    expect(await second.files.uploadsRead()).toBe(false);
    second.purge(STREAM);
    await until(() => purgeRecord(store) !== null, 'the purge recorded in the end');
    expect(faults.failPurgeWrites).toBe(0);
    second.lock();

    const third = queuedDevice(server.api, meta, ACCOUNT);
    expect(await third.files.uploadsRead()).toBe(true);
    expect(third.files.uploads()).toEqual([]);
    expect(third.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_PURGED', ref.blobId]]);
  });
});

describe('a purge while a file of the stream is being enqueued', () => {
  /** Holds the enqueue's second chunk write: the purge runs while the file is being stored. */
  const holdSecondChunk = () => {
    let reached!: () => void;
    let release!: () => void;
    const atWrite = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    const before = async (key: string): Promise<void> => {
      if (held || !key.endsWith('-p1')) return;
      held = true;
      reached();
      await released;
    };
    return { before, atWrite, release };
  };

  it('purges the file once its entry is written, whatever the session says of the stream', async () => {
    const server = memoryBlobServer();
    const { meta, store, hooks } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    await d.files.uploadsRead();
    const hold = holdSecondChunk();
    hooks.beforeWrite = hold.before;

    const enqueued = d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10), 'lab report.jpg'));
    await hold.atWrite;
    // The session's answer on the stream is not what decides (`writable.why` stays null).
    d.purge(STREAM);
    await new Promise((r) => setTimeout(r, 20));
    hold.release();

    const outcome = await enqueued.catch((e: unknown) => e);
    expect(isFileError(outcome) && [outcome.code, outcome.retry]).toEqual(['FORBIDDEN', false]);
    expect(isFileError(outcome) && outcome.message).toMatch(/access to .* ended while the file was stored/);
    const blobId = isFileError(outcome) ? outcome.blobId : undefined;
    expect(blobId).toBeDefined();
    await until(() => d.files.uploads().length === 0, 'not listed');
    expect(chunksOf(store, blobId ?? '')).toEqual([]);
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_PURGED', blobId]]);
    d.set(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(sent(server.calls)).toEqual([]);
  });

  it('a removal the store refuses is owed: recorded, never sent, removed after the backoff', async () => {
    const server = memoryBlobServer();
    const { meta, store, hooks } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    await d.files.uploadsRead();
    const hold = holdSecondChunk();
    // The enqueue's own index write passes; the next one (the file's removal) is refused.
    let indexWrites = 0;
    hooks.beforeWrite = async (key) => {
      await hold.before(key);
      if (key === 'upload-queue' && ++indexWrites === 2) {
        throw new Error('the device store refused the write (disk full)');
      }
    };

    const enqueued = d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10), 'lab report.jpg'));
    await hold.atWrite;
    d.writable.why = 'revoked';
    d.purge(STREAM);
    await new Promise((r) => setTimeout(r, 20));
    hold.release();

    const outcome = await enqueued.catch((e: unknown) => e);
    expect(isFileError(outcome) && outcome.code).toBe('FORBIDDEN');
    const blobId = isFileError(outcome) ? outcome.blobId : undefined;
    expect(blobId).toBeDefined();
    expect(purgeRecord(store)).toEqual([{ blobId, stream: STREAM }]);
    // Online while its removal waits for the retry: nothing of it is sent.
    d.set(true);
    await until(() => d.files.uploads().length === 0, 'removed in the end');
    await new Promise((r) => setTimeout(r, 50));
    expect(sent(server.calls)).toEqual([]);
    expect(chunksOf(store, blobId ?? '')).toEqual([]);
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([
      ['UPLOAD_PURGE_FAILED', blobId],
      ['UPLOAD_PURGED', blobId],
    ]);
    expect(store.has('upload-purges')).toBe(false);
  });
});
