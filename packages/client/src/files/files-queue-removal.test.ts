// Queued files that leave the device without being uploaded. When access to a stream ends, every file
// queued for it is removed, also after one whose removal fails (the device store refuses a write): the
// others' plaintext is not left on the device behind the first failure, and the failure is reported
// (UPLOAD_PURGE_FAILED, naming whether the file is still listed) and tried again with the queue's backoff
// until it passes (UPLOAD_PURGED). A queued file deleted on the server before
// its upload finished (another device deleted the record's file) is removed from this device with its
// bytes, reported once (UPLOAD_DELETED), and get no longer answers it from the queue.
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { isFileError } from './files';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, input, mapMeta, queuedDevice, until } from './queued-device.test-util';

const ACCOUNT = 'D'.repeat(22);
const STREAM = `${ACCOUNT}/document`;

const chunksOf = (store: Map<string, string>, blobId: string): string[] =>
  [...store.keys()].filter((k) => k.startsWith(`upload-chunk-${blobId}-`));

describe('the purge of a stream whose access ended', () => {
  it('removes every queued file of it even when one removal fails; that one is tried again by itself', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const first = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));
    const second = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 2), 'x-ray.jpg'));
    const third = await d.files.enqueue(input(fileBytes(100, 3), 'letter.jpg'));

    // The first removal's index write fails; the others go through.
    faults.failIndexWrites = 1;
    d.purge(STREAM);
    await until(() => d.reports.length === 3, 'three reports');

    expect(d.files.uploads().map((u) => u.blobId)).toEqual([first.blobId]);
    expect(chunksOf(store, second.blobId)).toEqual([]);
    expect(chunksOf(store, third.blobId)).toEqual([]);
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([
      ['UPLOAD_PURGE_FAILED', first.blobId],
      ['UPLOAD_PURGED', second.blobId],
      ['UPLOAD_PURGED', third.blobId],
    ]);
    const [failed] = d.reports;
    expect(failed?.message).toMatch(
      /"referral\.jpg".*could not be removed.*disk full.*tried again.*cancelUpload/,
    );

    // Tried again after the queue's backoff, with no one acting: removed, and reported so.
    await until(() => d.files.uploads().length === 0, 'the failed removal tried again');
    expect(chunksOf(store, first.blobId)).toEqual([]);
    await until(() => d.reports.length === 4, 'the fourth report');
    expect(d.reports[3]).toMatchObject({ code: 'UPLOAD_PURGED', id: first.blobId });
    // Its failure is no longer a standing issue; the files removed at once had none to clear.
    expect(d.cleared).toEqual([['UPLOAD_PURGE_FAILED', first.blobId]]);
  });

  it('is reported at each attempt only while it fails, with the backoff between attempts', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));

    faults.failIndexWrites = 3;
    const started = Date.now();
    d.purge(STREAM);
    await until(() => d.reports.some((r) => r.code === 'UPLOAD_PURGED'), 'removed in the end');
    // 20 ms, then 40 (the device's backoff): the third retry is the first to pass.
    expect(Date.now() - started).toBeGreaterThanOrEqual(20 + 40 + 40 - 5);
    expect(d.reports.map((r) => r.code)).toEqual([
      'UPLOAD_PURGE_FAILED',
      'UPLOAD_PURGE_FAILED',
      'UPLOAD_PURGE_FAILED',
      'UPLOAD_PURGED',
    ]);
    // One message while it fails the same way: the sync state keeps one issue for it, not one per attempt.
    expect(new Set(d.reports.slice(0, 3).map((r) => r.message)).size).toBe(1);
    expect(d.files.uploads()).toEqual([]);
    expect(chunksOf(store, ref.blobId)).toEqual([]);
    await new Promise((r) => setTimeout(r, 150));
    expect(d.reports).toHaveLength(4);
  });

  it('bytes left behind once the file is no longer listed are removed again by themselves', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));

    // The index entry goes, the chunks' removal fails.
    faults.failRemoves = 1;
    d.purge(STREAM);
    await until(() => d.reports.length === 1, 'reported');
    expect(d.files.uploads()).toEqual([]);
    expect(d.reports[0]).toMatchObject({ code: 'UPLOAD_PURGE_FAILED', id: ref.blobId });
    expect(d.reports[0]?.message).toMatch(/no longer listed.*tried again/);

    await until(() => chunksOf(store, ref.blobId).length === 0, 'its bytes removed');
    await until(() => d.reports.length === 2, 'reported removed');
    expect(d.reports[1]).toMatchObject({ code: 'UPLOAD_PURGED', id: ref.blobId });
  });

  it('a cancelUpload while a removal waits for its retry removes it; nothing more is reported', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));

    faults.failIndexWrites = 1;
    d.purge(STREAM);
    await until(() => d.reports.length === 1, 'reported');
    expect(await d.files.cancelUpload(ref.blobId)).toBe(true);
    expect(chunksOf(store, ref.blobId)).toEqual([]);
    await new Promise((r) => setTimeout(r, 150));
    expect(d.reports.map((r) => r.code)).toEqual(['UPLOAD_PURGE_FAILED']);
    expect(d.cleared).toEqual([['UPLOAD_PURGE_FAILED', ref.blobId]]);
  });
  it('a removal waiting for its retry when the session becomes unusable (locked) stops; no timer spins', async () => {
    const server = memoryBlobServer();
    const { meta, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));

    faults.failIndexWrites = 1;
    d.purge(STREAM);
    await until(() => d.reports.length === 1, 'reported');
    // Locked while offline: the queue hears of it only through `usable()`.
    d.lock();
    const before = d.usableCalls();
    await new Promise((r) => setTimeout(r, 200));
    // The retry due finds the session unusable once and stops: not rescheduled at once, again and again.
    expect(d.usableCalls() - before).toBeLessThan(5);
    expect(d.reports.map((r) => r.code)).toEqual(['UPLOAD_PURGE_FAILED']);
  });
});

describe('the purge of a stream whose access ended, across sessions and at once', () => {
  it('a removal still failing when the session closes is finished by the next session, before it lists anything', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));

    faults.failIndexWrites = 1;
    d.purge(STREAM);
    await until(() => d.reports.length === 1, 'reported');
    expect(d.reports[0]).toMatchObject({ code: 'UPLOAD_PURGE_FAILED', id: ref.blobId });
    // Closed (or locked) before its retry passed: this session removes nothing more.
    d.lock();
    await new Promise((r) => setTimeout(r, 80));
    expect(d.files.uploads().map((u) => u.blobId)).toEqual([ref.blobId]);

    const next = queuedDevice(server.api, meta, ACCOUNT);
    expect(await next.files.uploadsRead()).toBe(true);
    expect(next.files.uploads()).toEqual([]);
    expect(chunksOf(store, ref.blobId)).toEqual([]);
    expect(next.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_PURGED', ref.blobId]]);
    // Nothing of it is sent, and nothing is left to purge at a later start.
    next.set(true);
    await new Promise((r) => setTimeout(r, 80));
    expect(server.manifests.size).toBe(0);
    const later = queuedDevice(server.api, meta, ACCOUNT);
    expect(await later.files.uploadsRead()).toBe(true);
    expect(later.reports).toEqual([]);
    expect(store.has('upload-purges')).toBe(false);
  });

  it('a record of the purge the store refused at first is written with the retry, for the next session', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(100, 1), 'referral.jpg'));

    // The record refused (before the removal and after it), the removal too; the retry's removal refused
    // again, its record written.
    faults.failPurgeWrites = 2;
    faults.failIndexWrites = 2;
    d.purge(STREAM);
    await until(() => d.reports.length === 2, 'the retry failed too');
    d.lock();
    await new Promise((r) => setTimeout(r, 80));
    expect(d.files.uploads()).toHaveLength(1);

    const next = queuedDevice(server.api, meta, ACCOUNT);
    expect(await next.files.uploadsRead()).toBe(true);
    expect(next.files.uploads()).toEqual([]);
    expect(chunksOf(store, ref.blobId)).toEqual([]);
    expect(next.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_PURGED', ref.blobId]]);
  });

  it('a purge cut off by a lock before it reached every file is finished by the next session', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    // Locked as the first file is reported removed: the purge stops before the others.
    const d = queuedDevice(server.api, meta, ACCOUNT, { onReport: () => d.lock() });
    const first = await d.files.enqueue(input(fileBytes(100, 1), 'referral.jpg'));
    const second = await d.files.enqueue(input(fileBytes(100, 2), 'x-ray.jpg'));
    const third = await d.files.enqueue(input(fileBytes(100, 3), 'letter.jpg'));

    d.purge(STREAM);
    await until(() => d.reports.length === 1, 'the first removed');
    await new Promise((r) => setTimeout(r, 50));
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_PURGED', first.blobId]]);
    expect(d.files.uploads()).toHaveLength(2);

    const next = queuedDevice(server.api, meta, ACCOUNT);
    expect(await next.files.uploadsRead()).toBe(true);
    expect(next.files.uploads()).toEqual([]);
    expect(chunksOf(store, second.blobId)).toEqual([]);
    expect(chunksOf(store, third.blobId)).toEqual([]);
    expect(next.reports.map((r) => [r.code, r.id])).toEqual([
      ['UPLOAD_PURGED', second.blobId],
      ['UPLOAD_PURGED', third.blobId],
    ]);
  });

  it('sends no file of the stream while it removes the files before it', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const first = await d.files.enqueue(input(fileBytes(100, 1), 'referral.jpg'));
    const second = await d.files.enqueue(input(fileBytes(100, 2), 'x-ray.jpg'));

    // The connection comes back (uploads may run) as the purge begins.
    d.purge(STREAM);
    d.set(true);
    await until(() => d.files.uploads().length === 0, 'removed');
    await new Promise((r) => setTimeout(r, 50));
    expect(server.calls.filter((c) => /^(createBlob|putChunk)/.test(c))).toEqual([]);
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([
      ['UPLOAD_PURGED', first.blobId],
      ['UPLOAD_PURGED', second.blobId],
    ]);
  });

  it('two purges of the same stream at once report each file removed once', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const first = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 1), 'referral.jpg'));
    const second = await d.files.enqueue(input(fileBytes(100, 2), 'x-ray.jpg'));

    d.purge(STREAM);
    d.purge(STREAM);
    await until(() => d.files.uploads().length === 0, 'removed');
    await new Promise((r) => setTimeout(r, 100));
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([
      ['UPLOAD_PURGED', first.blobId],
      ['UPLOAD_PURGED', second.blobId],
    ]);
    expect(chunksOf(store, first.blobId)).toEqual([]);
  });
});

describe('a queued file deleted on the server before its upload finished', () => {
  it('is removed from this device with its bytes, reported once; get then answers DELETED', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10), 'lab report.jpg'));
    // Cut off after its manifest; then another device of the patient deletes the file.
    server.refuseNext('putChunk 1');
    d.set(true);
    await until(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', 'cut off');
    await server.api.deleteBlob(ref.blobId, 'token');
    await until(() => d.files.uploads().length === 0, 'removed from the queue');

    expect(chunksOf(store, ref.blobId)).toEqual([]);
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_DELETED', ref.blobId]]);
    expect(d.reports[0]?.message).toMatch(
      /"lab report\.jpg".*deleted on the server.*removed from this device/,
    );
    const got = await d.files.get(ref, { type: 'document' }).catch((e: unknown) => e);
    expect(isFileError(got) && got.code).toBe('DELETED');
    // Nothing more is sent or reported for it.
    await new Promise((r) => setTimeout(r, 100));
    expect(d.reports).toHaveLength(1);
  });

  it('when the device store cannot remove it: failed, saying to cancel it, not to retry', async () => {
    const server = memoryBlobServer();
    const { meta, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10), 'lab report.jpg'));
    server.refuseNext('putChunk 1');
    d.set(true);
    await until(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', 'cut off');
    await server.api.deleteBlob(ref.blobId, 'token');
    // The removal's index write fails; marking it failed then goes through.
    faults.failIndexWrites = 1;
    await until(() => d.files.uploads()[0]?.state === 'failed', 'failed');

    const [u] = d.files.uploads();
    expect(u?.lastError).toMatchObject({ code: 'DELETED', serverCode: 'BLOB_DELETED' });
    expect(u?.lastError?.message).toMatch(/deleted on the server.*cancelUpload/);
    expect(d.reports.map((r) => r.code)).toEqual(['UPLOAD_REFUSED']);
    expect(d.reports[0]?.message).toMatch(/cancelUpload/);
    expect(d.reports[0]?.message).not.toMatch(/retryUpload/);
    expect(await d.files.cancelUpload(ref.blobId)).toBe(true);
  });
});

describe('a cancelUpload the device store refuses', () => {
  it('rejects and leaves the file queued as before: it is sent when the device comes online', async () => {
    const server = memoryBlobServer();
    const { meta, store, faults } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10, 4), 'referral.jpg'));

    faults.failIndexWrites = 1;
    await expect(d.files.cancelUpload(ref.blobId)).rejects.toThrow(/disk full/);
    expect(d.files.uploads().map((u) => [u.blobId, u.state])).toEqual([[ref.blobId, 'queued']]);
    expect(chunksOf(store, ref.blobId)).not.toEqual([]);

    // Not left marked cancelled for the rest of the session: it goes up, and leaves the queue then.
    d.set(true);
    await until(() => d.files.uploads().length === 0, 'uploaded');
    expect(server.manifests.has(ref.blobId)).toBe(true);
    expect(server.deleted.has(ref.blobId)).toBe(false);
    expect(chunksOf(store, ref.blobId)).toEqual([]);
    expect(d.reports).toEqual([]);
  });
});
