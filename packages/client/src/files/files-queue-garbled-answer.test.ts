// A queued file's upload answered HTTP 200 (or another 2xx) with a body the device cannot read: not JSON, or
// JSON breaking the route's schema (a captive portal's page, a proxy, a server fault). The HTTP API throws
// BAD_RESPONSE, not retryable as a request (api/errors.ts), but the server did not refuse the file: it
// may well have taken the request. So the queue keeps the file waiting and tries it again after its
// backoff, as after no answer, instead of marking it refused for good (UPLOAD_REFUSED), which needed the
// person to retry it.
import { describe, expect, it } from 'vitest';
import { MIN_CHUNK_BYTES } from '@hale/protocol';
import { createHttpApi, type FetchLike } from '../api/http-api';
import { isFileError, type FilesHttpApi } from './files';
import { memoryBlobServer } from './memory-blob-server.test-util';
import { fileBytes, input, mapMeta, queuedDevice, until } from './queued-device.test-util';

const ACCOUNT = 'M'.repeat(22);

/** A real HttpApi whose every answer is `status` with `body` as JSON text (none when empty). */
const answering = (status: number, body: string) => {
  const fetch: FetchLike = async () =>
    new Response(body === '' ? null : body, { status, headers: { 'content-type': 'application/json' } });
  return createHttpApi({ baseUrl: 'http://hale.test', fetch });
};

type Garbled = 'createBlob' | 'putChunk';

/**
 * The memory server's api, whose next `route` call takes effect on the server and is then answered by
 * `answer` (what the HTTP API throws for that answer), once.
 */
const garbleNext = (
  api: FilesHttpApi,
  route: Garbled,
  answer: ReturnType<typeof answering>,
): FilesHttpApi => {
  let pending = true;
  return {
    ...api,
    createBlob: async (body, token) => {
      const done = await api.createBlob(body, token);
      if (route !== 'createBlob' || !pending) return done;
      pending = false;
      return answer.createBlob(body, token);
    },
    putChunk: async (blobId, index, bytes, token) => {
      const done = await api.putChunk(blobId, index, bytes, token);
      if (route !== 'putChunk' || !pending) return done;
      pending = false;
      return answer.putChunk(blobId, index, bytes, token);
    },
  };
};

const answers = [
  { route: 'createBlob', status: 200, body: '{"blobId":42}', what: 'JSON breaking the schema' },
  { route: 'putChunk', status: 200, body: '<html>Sign in to the Wi-Fi</html>', what: 'not JSON' },
  { route: 'createBlob', status: 204, body: '', what: 'another 2xx than the route answers' },
] as const;

describe('a garbled success answer to a queued upload', () => {
  for (const { route, status, body, what } of answers) {
    it(`${route} answered ${status}, ${what}: the file stays queued and is sent again after the backoff`, async () => {
      const server = memoryBlobServer();
      const { meta } = mapMeta();
      const api = garbleNext(server.api, route, answering(status, body));
      const d = queuedDevice(api, meta, ACCOUNT);
      const ref = await d.files.enqueue(input(fileBytes(MIN_CHUNK_BYTES * 2 + 10), 'lab report.jpg'));

      d.set(true);
      await until(() => d.files.uploads()[0]?.lastError !== null, 'the first attempt failed');
      const [u] = d.files.uploads();
      expect(u?.state).toBe('queued');
      expect(u?.failure).toBeNull();
      expect(u?.lastError?.serverCode).toBe('BAD_RESPONSE');
      expect(u?.nextAttemptAt).not.toBeNull();
      expect(u?.lastError?.message).toMatch(/answer breaks the protocol \(BAD_RESPONSE\)/);

      await until(() => d.files.uploads().length === 0, 'uploaded on the retry');
      expect(server.manifests.has(ref.blobId)).toBe(true);
      expect(d.reports).toEqual([]);
    });
  }

  it('a redirect (not a success answer) is still refused for good', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const api = garbleNext(server.api, 'createBlob', answering(302, ''));
    const d = queuedDevice(api, meta, ACCOUNT);
    await d.files.enqueue(input(fileBytes(100), 'lab report.jpg'));

    d.set(true);
    await until(() => d.files.uploads()[0]?.state === 'failed', 'refused');
    expect(d.files.uploads()[0]?.failure).toBe('UPLOAD_REFUSED');
    expect(d.reports.map((r) => r.code)).toEqual(['UPLOAD_REFUSED']);
  });

  it('put: a garbled 200 to a chunk is REFUSED with retry and the blob id, and resumes from what the server holds', async () => {
    const server = memoryBlobServer();
    const { meta } = mapMeta();
    const api = garbleNext(server.api, 'putChunk', answering(200, '<html>Sign in to the Wi-Fi</html>'));
    const { files } = queuedDevice(api, meta, ACCOUNT);
    const bytes = fileBytes(MIN_CHUNK_BYTES * 2 + 10);
    const failed = await files.put(input(bytes)).catch((e: unknown) => e);
    expect(isFileError(failed) && [failed.code, failed.serverCode, failed.retry]).toEqual([
      'REFUSED',
      'BAD_RESPONSE',
      true,
    ]);
    const blobId = isFileError(failed) ? failed.blobId : undefined;
    expect(blobId).toBeDefined();
    const chunksBefore = server.calls.filter((c) => c.startsWith('putChunk')).length;
    // The server took the chunk whose answer was garbled: the resumed put sends only the ones it lacks.
    const ref = await files.put({ ...input(bytes), resumeBlobId: blobId! });
    expect(ref.blobId).toBe(blobId);
    expect(server.calls.filter((c) => c.startsWith('putChunk')).length - chunksBefore).toBe(2);
    expect(await files.get(ref, { type: 'document' })).toEqual(bytes);
  });
});
