// A 2xx answer other than the route's own success status (200 where 201 is promised, 201 or 204 where
// 200 is) is not what the protocol promises: BAD_RESPONSE naming both statuses, its body left unread.
// Above all it is never read as an error answer, so an error-shaped body in a 2xx cannot make a call
// look refused for a reason the server chose (and retryable or not as that reason says).
import { describe, expect, it } from 'vitest';
import { newId } from '@hale/model';
import { makeRegistration } from '../../../../sync-server/src/testing/harness';
import { isHaleClientError, type HaleClientError } from './errors';
import { createHttpApi, type FetchLike, type FetchResponseLike } from './http-api';

/** A fetch that answers every request with `status` and `text`, counting the reads of its body. */
function answering(status: number, text: string): { fetch: FetchLike; reads: () => number } {
  let reads = 0;
  const read = <T>(value: () => T) => {
    reads++;
    return Promise.resolve(value());
  };
  const fetch: FetchLike = async () => {
    const response: FetchResponseLike = {
      status,
      ok: status >= 200 && status < 300,
      headers: { get: (name) => (name.toLowerCase() === 'content-type' ? 'application/json' : null) },
      json: () => read(() => JSON.parse(text) as unknown),
      text: () => read(() => text),
      arrayBuffer: () => read(() => new TextEncoder().encode(text).buffer),
    };
    return response;
  };
  return { fetch, reads: () => reads };
}

async function thrown(promise: Promise<unknown>): Promise<HaleClientError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (isHaleClientError(error)) return error;
  throw new Error(`expected a HaleClientError, got ${String(error)}`);
}

const errorBody = (code: string) => JSON.stringify({ code, message: 'chosen by the server' });

describe("a 2xx that is not the route's success status", () => {
  it('200 to a registration (a 201 route), with an error-shaped body: BAD_RESPONSE, not the code in the body', async () => {
    const { body } = await makeRegistration('patient');
    const server = answering(200, errorBody('UNAVAILABLE'));
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: server.fetch }).register(body));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.status).toBe(200);
    expect(e.message).toContain('expected HTTP 201, got 200');
    expect(e.retry).toBe(false);
    expect(e.wireCode).toBeUndefined();
    expect(server.reads(), 'reads of the body').toBe(0);
  });

  it('201 and 204 to health (a 200 route), with an error-shaped body: BAD_RESPONSE', async () => {
    for (const status of [201, 204]) {
      const server = answering(status, errorBody('NOT_FOUND'));
      const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: server.fetch }).health());
      expect(e.code, `HTTP ${status}`).toBe('BAD_RESPONSE');
      expect(e.status).toBe(status);
      expect(e.message).toContain(`expected HTTP 200, got ${status}`);
      expect(server.reads(), `reads of the body (HTTP ${status})`).toBe(0);
    }
  });

  it('204 without a body to a registration: BAD_RESPONSE for its status, not for a missing error body', async () => {
    const { body } = await makeRegistration('patient');
    const server = answering(204, '');
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: server.fetch }).register(body));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toContain('expected HTTP 201, got 204');
    expect(server.reads(), 'reads of the body').toBe(0);
  });

  it('a valid answer is taken under its own status only', async () => {
    const healthy = JSON.stringify({ status: 'ok', store: 'sqlite', version: '1' });
    const ok = answering(200, healthy);
    expect(await createHttpApi({ baseUrl: 'http://x', fetch: ok.fetch }).health()).toEqual(
      JSON.parse(healthy),
    );
    const created = answering(201, healthy);
    const e = await thrown(createHttpApi({ baseUrl: 'http://x', fetch: created.fetch }).health());
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toContain('expected HTTP 200, got 201');
    expect(created.reads(), 'reads of the body').toBe(0);
  });
});

describe("a 2xx that is not the chunk route's success status (raw bytes, not JSON)", () => {
  /** Well-formed, or the call is refused before it reaches the fake server. */
  const BLOB_ID = newId();
  const TOKEN = 'x'.repeat(40);

  it('206 and 201 to getChunk (a 200 route), with an error-shaped body: BAD_RESPONSE, not the code in the body', async () => {
    for (const status of [206, 201]) {
      const server = answering(status, errorBody('UNAVAILABLE'));
      const api = createHttpApi({ baseUrl: 'http://x', fetch: server.fetch });
      const e = await thrown(api.getChunk(BLOB_ID, 0, TOKEN));
      expect(e.code, `HTTP ${status}`).toBe('BAD_RESPONSE');
      expect(e.status).toBe(status);
      expect(e.message).toContain(`expected HTTP 200, got ${status}`);
      expect(e.retry).toBe(false);
      expect(e.wireCode).toBeUndefined();
      expect(server.reads(), `reads of the body (HTTP ${status})`).toBe(0);
    }
  });

  it('204 without a body to getChunk: BAD_RESPONSE for its status, not for a missing error body', async () => {
    const server = answering(204, '');
    const e = await thrown(
      createHttpApi({ baseUrl: 'http://x', fetch: server.fetch }).getChunk(BLOB_ID, 0, TOKEN),
    );
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toContain('expected HTTP 200, got 204');
    expect(server.reads(), 'reads of the body').toBe(0);
  });

  it('the same bytes are taken under 200, and a 4xx with an error body is still its code', async () => {
    const ok = answering(200, 'sealed bytes');
    const bytes = await createHttpApi({ baseUrl: 'http://x', fetch: ok.fetch }).getChunk(BLOB_ID, 0, TOKEN);
    expect(new TextDecoder().decode(bytes)).toBe('sealed bytes');
    const refused = answering(404, errorBody('NOT_FOUND'));
    const e = await thrown(
      createHttpApi({ baseUrl: 'http://x', fetch: refused.fetch }).getChunk(BLOB_ID, 0, TOKEN),
    );
    expect(e.code).toBe('NOT_FOUND');
    expect(e.status).toBe(404);
  });
});
