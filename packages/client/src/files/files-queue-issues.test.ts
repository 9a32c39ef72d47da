// What the upload queue reports for a queued file that failed for good: a server that lost chunks it had
// confirmed is told apart from a refusal (UPLOAD_SERVER_LOST: the device still holds the file, so
// retryUpload sends it again), and a report fits the sync state's issue messages (500 characters) with its
// advice whole, however long the file's name. (A file deleted on the server before its upload finished:
// files-queue-removal.test.ts.)
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { HaleClientError } from '../api/errors';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, input, mapMeta, queuedDevice, until } from './queued-device.test-util';
import { cutMiddle } from '../core/cut-middle';
import { quotedName } from './upload-queue';

const ACCOUNT = 'C'.repeat(22);
/** The sync state's longest issue message (sync/engine.ts MAX_ISSUE_MESSAGE): longer ones are cut. */
const MAX_ISSUE_MESSAGE = 500;

/** The longest name a FileRef takes (the model's FileRefSchema: 255 characters). */
const LONG_NAME = `${'a very long name of a scanned referral letter '.repeat(6).slice(0, 251)}.pdf`;

describe('a server that lost chunks it had confirmed', () => {
  it('is UPLOAD_SERVER_LOST, not a refusal; retryUpload sends the file again from this device', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 10);
    const ref = await d.files.enqueue(input(bytes));
    // Chunk 0 confirmed, then lost by the server before the last chunk is answered.
    const held = server.hold('putChunk 2', 'before');
    d.set(true);
    await held.reached;
    server.chunks.delete(`${ref.blobId}/0`);
    held.release();
    await until(() => d.files.uploads()[0]?.state === 'failed', 'failed');

    const [u] = d.files.uploads();
    expect(u?.failure).toBe('UPLOAD_SERVER_LOST');
    expect(d.reports.map((r) => [r.code, r.id])).toEqual([['UPLOAD_SERVER_LOST', ref.blobId]]);
    expect(u?.lastError?.message).toMatch(/lost chunk 0 .*retryUpload/);

    expect(await d.files.retryUpload(ref.blobId)).toBe(true);
    await until(() => d.files.uploads().length === 0, 'uploaded on the retry');
    expect(server.calls.filter((c) => c.startsWith('putChunk')).slice(-1)).toEqual(['putChunk 0']);
    expect(await d.files.get(ref, { type: 'document' })).toEqual(bytes);
  });

  it('a chunk the server lost that was lost on this device too: stuck, not "retry"', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10)));
    // Chunk 0 reaches the server; then its sealed copy is lost here, and the server loses it too.
    server.refuseNext('putChunk 1');
    d.set(true);
    await until(() => d.files.uploads()[0]?.lastError?.code === 'OFFLINE', 'cut off');
    d.set(false);
    store.delete(`upload-chunk-${ref.blobId}-s0`);
    const held = server.hold('putChunk 2', 'before');
    d.set(true);
    await held.reached;
    server.chunks.delete(`${ref.blobId}/0`);
    held.release();
    await until(() => d.files.uploads()[0]?.state === 'failed', 'failed');

    expect(d.files.uploads()[0]?.failure).toBe('UPLOAD_STUCK');
    expect(d.reports.map((r) => r.code)).toEqual(['UPLOAD_STUCK']);
    expect(d.files.uploads()[0]?.lastError?.message).toMatch(/cancelUpload/);
  });
});

/** A surrogate half without its other half: text cut in the middle of a character. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('cutting a message to fit', () => {
  it('counts UTF-16 units, as the limits it must fit do, and never splits a surrogate pair', () => {
    const name = `${'😷'.repeat(150)}.pdf`;
    const quoted = quotedName(name);
    expect(quoted.length).toBeLessThanOrEqual(60);
    expect(quoted.endsWith('.pdf')).toBe(true);
    expect(quoted).not.toMatch(LONE_SURROGATE);
    const cut = cutMiddle(`${'a'.repeat(10)}${'😷'.repeat(600)} then retry`, 500);
    expect(cut.length).toBeLessThanOrEqual(500);
    expect(cut).not.toMatch(LONE_SURROGATE);
    expect(cut.endsWith(' then retry')).toBe(true);
  });
});

describe('a report of a queued file failed for good, with the longest file name', () => {
  it('stuck: fits an issue message with its advice whole, the name shortened', async () => {
    const server = memoryBlobServer();
    const { meta, store } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES + 10), LONG_NAME));
    store.delete(`upload-chunk-${ref.blobId}-p1`);
    d.set(true);
    await until(() => d.reports.length === 1, 'reported');

    const [report] = d.reports;
    expect(report?.code).toBe('UPLOAD_STUCK');
    expect(report?.message.length).toBeLessThanOrEqual(MAX_ISSUE_MESSAGE);
    expect(report?.message).toMatch(/cancel it \(cancelUpload\), add the file again and put the new FileRef/);
    // The name stays recognizable: its start and its extension.
    expect(report?.message).toContain(LONG_NAME.slice(0, 30));
    expect(report?.message).toMatch(/\.pdf"/);
  });

  it('refused with the longest message a server sends: fits, says what to do', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const d = queuedDevice(server.api, meta, ACCOUNT);
    server.refuseNext(
      'createBlob',
      new HaleClientError({ code: 'QUOTA_EXCEEDED', message: 'q'.repeat(1000), status: 413, retry: false }),
    );
    await d.files.enqueue(input(fileBytes(100), LONG_NAME));
    d.set(true);
    await until(() => d.reports.length === 1, 'reported');

    const [report] = d.reports;
    expect(report?.code).toBe('UPLOAD_REFUSED');
    expect(report?.message.length).toBeLessThanOrEqual(MAX_ISSUE_MESSAGE);
    expect(report?.message).toMatch(/QUOTA_EXCEEDED/);
    expect(report?.message).toMatch(/retryUpload.*cancelUpload/);
  });
});
