// A file added with enqueue whose upload was cut off part way (the server holds its manifest
// and some chunks) is read by another device of the patient. The FileRef was handed out before the upload
// (enqueue), so the rest of the file does come once the adding device is back: get must not say
// "the rest will not come" (INCOMPLETE without retry). Both devices are HaleSessions of openHaleForTests,
// the adding device's chunk uploads dropped at its platform's fetch.
import { describe, expect, it } from 'vitest';
import { FILE_ERROR_CODES, isHaleError, type FetchLike, type HaleSession } from '@hale/client';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import type { TestServer } from '@hale/sync-server/testing';
import { useServer } from '../support/fixture';
import { useHaleSessions, when } from '../client-api/hale-devices';
import { until } from '../conflicts/parties';
import { openFileDevice } from './file-parties';

const server = useServer({ realClock: true });
const sessions: HaleSession[] = useHaleSessions();

const chunksHeld = (t: TestServer, blobId: string): number =>
  (t.store.db.prepare('SELECT COUNT(*) AS n FROM blob_chunks WHERE blob_id = ?').get(blobId) as { n: number })
    .n;

describe('a queued upload cut off part way, read on another device', () => {
  it('is not refused as a file that will never complete: the rest comes once the adding device is back', async () => {
    const { t } = server;
    let dropFromChunk = 1;
    const cutting =
      (real: FetchLike): FetchLike =>
      async (url, init) => {
        const put = init.method === 'PUT' ? /\/chunks\/(\d+)$/.exec(new URL(url).pathname) : null;
        if (put && Number(put[1]) >= dropFromChunk) {
          throw new TypeError('fetch failed (the test dropped the connection)');
        }
        return real(url, init);
      };
    const { session: phone, loginName } = await openFileDevice(t.url, sessions, { fetch: cutting });
    const { session: tablet } = await openFileDevice(t.url, sessions, { join: loginName });
    const bytes = new Uint8Array(MIN_CHUNK_BYTES * 2 + 10).map((_, i) => (i * 7) & 0xff);

    const ref = await phone.files.enqueue({
      type: 'document',
      bytes,
      fileName: 'scan.pdf',
      mediaType: 'application/pdf',
      chunkSize: MIN_CHUNK_BYTES,
    });
    // The first chunk reached the server, then the connection dropped: the queue waits with its backoff.
    await until(() => chunksHeld(t, ref.blobId) === 1, 'chunk 0 on the server');
    await when(
      phone.files.uploads,
      (u) => u[0]?.lastError?.code === 'OFFLINE',
      'the queued upload failed OFFLINE and waits',
    );

    const early = await tablet.files.get(ref, { type: 'document' }).catch((e: unknown) => e);
    // A file error (one of the files area's codes).
    expect(isHaleError(early)).toBe(true);
    const { code, retry } = early as { code: string; retry: boolean };
    expect(FILE_ERROR_CODES).toContain(code);
    // The file is being uploaded by the device that added it: a passing state, to retry.
    expect({ code, retry }).toEqual({ code: 'INCOMPLETE', retry: true });

    // And indeed it does complete.
    dropFromChunk = Infinity;
    await when(phone.files.uploads, (u) => u.length === 0, 'the queue finishes the upload', 30_000);
    expect(await tablet.files.get(ref, { type: 'document' })).toEqual(bytes);
  }, 60_000);
});
