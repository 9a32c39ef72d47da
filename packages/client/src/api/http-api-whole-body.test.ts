// An answer without a body stream (a fetch polyfill, a wrapper that rebuilds the response) is read whole.
// It must be held to the same rules as a streamed one: its limit counted in bytes, and bytes that are not
// UTF-8 refused, not turned into U+FFFD (which `text()` does without a word).
import { describe, expect, it } from 'vitest';
import { newId } from '@hale/model';
import { isHaleClientError, type HaleClientError } from './errors';
import { MAX_ERROR_BODY_BYTES, createHttpApi, type FetchResponseLike } from './http-api';

const TOKEN = 'x'.repeat(40);

/** A response with no `body`: `text()` decodes as a fetch Response does (bad bytes → U+FFFD). */
function wholeOnly(status: number, bytes: Uint8Array): { response: FetchResponseLike; reads: string[] } {
  const reads: string[] = [];
  const response: FetchResponseLike = {
    status,
    ok: status >= 200 && status < 300,
    headers: { get: (name) => (name.toLowerCase() === 'content-type' ? 'application/json' : null) },
    json: async () => {
      reads.push('json');
      return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    },
    text: async () => {
      reads.push('text');
      return new TextDecoder().decode(bytes);
    },
    arrayBuffer: async () => {
      reads.push('arrayBuffer');
      return bytes.slice().buffer;
    },
  };
  return { response, reads };
}

const apiAnswering = (response: FetchResponseLike) =>
  createHttpApi({ baseUrl: 'http://server.invalid', fetch: async () => response });

/** `{"status":"ok","store":"<bytes>","version":"1"}` with `inner` spliced in as the store's raw bytes. */
function healthWith(inner: Uint8Array): Uint8Array {
  const enc = new TextEncoder();
  const head = enc.encode('{"status":"ok","store":"');
  const tail = enc.encode('","version":"1"}');
  const out = new Uint8Array(head.length + inner.length + tail.length);
  out.set(head, 0);
  out.set(inner, head.length);
  out.set(tail, head.length + inner.length);
  return out;
}

async function thrown(promise: Promise<unknown>): Promise<HaleClientError> {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  if (!isHaleClientError(error)) throw error;
  return error;
}

describe('http-api: an answer without a body stream', () => {
  it('is refused as BAD_RESPONSE when it is not UTF-8, as a streamed one is (no U+FFFD in its place)', async () => {
    const { response } = wholeOnly(200, healthWith(new Uint8Array([0x73, 0xff, 0xfe, 0x71])));
    const e = await thrown(apiAnswering(response).health());
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.status).toBe(200);
    expect(e.message).toBe('health: answer is not JSON');
  });

  it('an error body that is not UTF-8 is no error answer either', async () => {
    const body = new TextEncoder().encode('{"code":"FORBIDDEN","message":"no \u00ff"}');
    const broken = body.slice();
    broken[broken.indexOf(0xc3)] = 0xff; // the first byte of "ÿ": now a lone continuation byte follows it
    const { response } = wholeOnly(403, broken);
    const e = await thrown(apiAnswering(response).getWrappedRoot(TOKEN));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.message).toBe('getWrappedRoot: HTTP 403 without an error body');
  });

  it('counts its limit in bytes: an error body over MAX_ERROR_BODY_BYTES of two-byte characters is refused', async () => {
    // Fewer UTF-16 units than the limit, twice as many bytes.
    const message = '\u00e9'.repeat(MAX_ERROR_BODY_BYTES / 2 + 16);
    const bytes = new TextEncoder().encode(JSON.stringify({ code: 'INTERNAL', message }));
    expect(bytes.length).toBeGreaterThan(MAX_ERROR_BODY_BYTES);
    const { response } = wholeOnly(500, bytes);
    const e = await thrown(apiAnswering(response).health());
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.details).toEqual({ limit: MAX_ERROR_BODY_BYTES });
  });

  it('reads the bytes once (arrayBuffer), and a well-formed UTF-8 answer is read intact', async () => {
    const { response, reads } = wholeOnly(
      200,
      healthWith(new TextEncoder().encode('sqlite \u2013 \u00fcn\u00efc\u00f6d\u00e9')),
    );
    expect(await apiAnswering(response).health()).toEqual({
      status: 'ok',
      store: 'sqlite \u2013 \u00fcn\u00efc\u00f6d\u00e9',
      version: '1',
    });
    expect(reads).toEqual(['arrayBuffer']);
  });

  it('a getChunk answer without a stream is read as bytes, bounded in bytes', async () => {
    const chunk = new Uint8Array([0xff, 0x00, 0xfe]);
    const { response } = wholeOnly(200, chunk);
    expect(await apiAnswering(response).getChunk(newId(), 0, TOKEN)).toEqual(chunk);
  });
});
