// A hostile or broken server must not make the device hold an answer of any size: each route's answer is
// refused beyond its limit, before reading when `content-length` says so, else as soon as the stream
// passes the limit.
import { describe, expect, it } from 'vitest';
import { MAX_CHUNK_BYTES, MAX_FRAME_BYTES } from '@hale/protocol';
import { newId } from '@hale/model';
import { isHaleClientError, type HaleClientError } from './errors';
import { ANSWER_LIMITS, MAX_ERROR_BODY_BYTES, createHttpApi, type FetchResponseLike } from './http-api';

const CHUNK = 64 * 1024;
/** Well-formed, or the call is refused before it reaches the fake server. */
const BLOB_ID = newId();
const TOKEN = 'x'.repeat(40);

interface Reading {
  /** Bytes handed out by the body stream. */
  streamed: number;
  cancelled: boolean;
  /** Calls of text() or arrayBuffer(), which read the whole body whatever its size. */
  wholeReads: number;
}

/**
 * An answer of `total` bytes (of `fill`), offered as a stream in 64 KiB pieces and through text() and
 * arrayBuffer() (which, called, hand out only a token body: what matters is that they were called).
 */
function answer(
  status: number,
  total: number,
  options: { contentLength?: string; stream?: boolean; fill?: number } = {},
): { response: FetchResponseLike; reading: Reading } {
  const reading: Reading = { streamed: 0, cancelled: false, wholeReads: 0 };
  const piece = new Uint8Array(CHUNK).fill(options.fill ?? 0x20);
  const response: FetchResponseLike = {
    status,
    ok: status >= 200 && status < 300,
    headers: {
      get: (name) =>
        name.toLowerCase() === 'content-length'
          ? (options.contentLength ?? null)
          : name.toLowerCase() === 'content-type'
            ? 'application/json'
            : null,
    },
    ...(options.stream === false
      ? {}
      : {
          body: {
            getReader: () => ({
              read: async () => {
                if (reading.cancelled || reading.streamed >= total) return { done: true };
                const value = piece.subarray(0, Math.min(CHUNK, total - reading.streamed));
                reading.streamed += value.length;
                return { done: false, value };
              },
              cancel: async () => {
                reading.cancelled = true;
              },
            }),
          },
        }),
    json: async () => {
      reading.wholeReads++;
      return {};
    },
    text: async () => {
      reading.wholeReads++;
      return '{}';
    },
    arrayBuffer: async () => {
      reading.wholeReads++;
      return new ArrayBuffer(8);
    },
  };
  return { response, reading };
}

const apiAnswering = (response: FetchResponseLike) =>
  createHttpApi({ baseUrl: 'http://server.invalid', fetch: async () => response });

async function thrown(promise: Promise<unknown>): Promise<HaleClientError> {
  const error = await promise.then(
    () => new Error('expected a refusal'),
    (e: unknown) => e,
  );
  if (!isHaleClientError(error)) throw error;
  return error;
}

describe('http-api: answers larger than their route allows', () => {
  it('the limits come from the protocol: a sealed chunk for getChunk, a frame for JSON answers', () => {
    expect(ANSWER_LIMITS.getChunk).toBe(MAX_CHUNK_BYTES);
    expect(ANSWER_LIMITS.health).toBe(MAX_FRAME_BYTES);
    expect(ANSWER_LIMITS.getAccount).toBe(MAX_FRAME_BYTES);
  });

  it('getChunk: a streamed chunk over MAX_CHUNK_BYTES is given up at the limit, the stream cancelled', async () => {
    const { response, reading } = answer(200, 64 * MAX_CHUNK_BYTES);
    const e = await thrown(apiAnswering(response).getChunk(BLOB_ID, 0, TOKEN));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.details).toEqual({ limit: MAX_CHUNK_BYTES });
    expect(e.message).toMatch(/getChunk: answer refused: larger than the \d+ bytes this route may answer/);
    expect(reading.wholeReads).toBe(0);
    expect(reading.streamed).toBeLessThanOrEqual(MAX_CHUNK_BYTES + CHUNK);
    expect(reading.cancelled).toBe(true);
  });

  it('getChunk: a content-length over the limit is refused before a byte is read', async () => {
    const { response, reading } = answer(200, 64 * MAX_CHUNK_BYTES, {
      contentLength: String(64 * MAX_CHUNK_BYTES),
    });
    const e = await thrown(apiAnswering(response).getChunk(BLOB_ID, 0, TOKEN));
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.details).toEqual({ limit: MAX_CHUNK_BYTES });
    expect({ streamed: reading.streamed, wholeReads: reading.wholeReads }).toEqual({
      streamed: 0,
      wholeReads: 0,
    });
  });

  it('getChunk: a chunk of exactly MAX_CHUNK_BYTES, streamed, is taken whole', async () => {
    const { response, reading } = answer(200, MAX_CHUNK_BYTES, {
      contentLength: String(MAX_CHUNK_BYTES),
      fill: 7,
    });
    const bytes = await apiAnswering(response).getChunk(BLOB_ID, 0, TOKEN);
    expect(bytes.length).toBe(MAX_CHUNK_BYTES);
    expect(bytes.every((b) => b === 7)).toBe(true);
    expect(reading.wholeReads).toBe(0);
  });

  it('a JSON answer streamed past MAX_FRAME_BYTES (no content-length) is given up at the limit', async () => {
    const { response, reading } = answer(200, 4 * MAX_FRAME_BYTES);
    const e = await thrown(apiAnswering(response).health());
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.details).toEqual({ limit: MAX_FRAME_BYTES });
    expect(e.retry).toBe(false);
    expect(reading.wholeReads).toBe(0);
    expect(reading.streamed).toBeLessThanOrEqual(MAX_FRAME_BYTES + CHUNK);
    expect(reading.cancelled).toBe(true);
  });

  it('a JSON answer whose content-length is over the limit is refused unread', async () => {
    const { response, reading } = answer(200, 4 * MAX_FRAME_BYTES, { contentLength: '99999999999' });
    const e = await thrown(apiAnswering(response).health());
    expect(e.details).toEqual({ limit: MAX_FRAME_BYTES });
    expect({ streamed: reading.streamed, wholeReads: reading.wholeReads }).toEqual({
      streamed: 0,
      wholeReads: 0,
    });
  });

  it('an error answer (503) with a huge body is read no further than MAX_ERROR_BODY_BYTES', async () => {
    const { response, reading } = answer(503, 64 * MAX_ERROR_BODY_BYTES);
    const e = await thrown(apiAnswering(response).health());
    expect(e.code).toBe('BAD_RESPONSE');
    expect(e.status).toBe(503);
    expect(e.retry).toBe(true);
    expect(e.details).toEqual({ limit: MAX_ERROR_BODY_BYTES });
    expect(reading.wholeReads).toBe(0);
    expect(reading.streamed).toBeLessThanOrEqual(MAX_ERROR_BODY_BYTES + CHUNK);
    expect(reading.cancelled).toBe(true);
  });

  it('without a body stream, an answer read whole is still refused when larger than the limit', async () => {
    const { response } = answer(200, 0, { stream: false });
    const huge = async () => new ArrayBuffer(MAX_FRAME_BYTES + 1);
    const json = await thrown(apiAnswering({ ...response, arrayBuffer: huge }).health());
    expect(json.details).toEqual({ limit: MAX_FRAME_BYTES });
    const bytes = await thrown(
      apiAnswering({ ...response, arrayBuffer: async () => new ArrayBuffer(MAX_CHUNK_BYTES + 1) }).getChunk(
        BLOB_ID,
        0,
        TOKEN,
      ),
    );
    expect(bytes.details).toEqual({ limit: MAX_CHUNK_BYTES });
  });

  it('a JSON answer streamed in pieces that cut a UTF-8 character is read intact', async () => {
    const text = JSON.stringify({ status: 'ok', store: 'sqlite – ünïcödé', version: '1.0' });
    const bytes = new TextEncoder().encode(text);
    const cut = bytes.indexOf(0xc3) + 1; // inside the two bytes of "ü"
    const pieces = [bytes.subarray(0, cut), bytes.subarray(cut)];
    const response: FetchResponseLike = {
      ...answer(200, 0).response,
      body: {
        getReader: () => ({
          read: async () => {
            const value = pieces.shift();
            return value === undefined ? { done: true } : { done: false, value };
          },
          cancel: async () => undefined,
        }),
      },
    };
    expect(await apiAnswering(response).health()).toEqual({
      status: 'ok',
      store: 'sqlite – ünïcödé',
      version: '1.0',
    });
  });

  it('a stream that fails while read is NETWORK (the request may have taken effect)', async () => {
    const response: FetchResponseLike = {
      ...answer(200, 0).response,
      body: {
        getReader: () => ({
          read: async () => Promise.reject(new TypeError('terminated: other side closed')),
          cancel: async () => undefined,
        }),
      },
    };
    const e = await thrown(apiAnswering(response).health());
    expect(e.code).toBe('NETWORK');
    const bytes = await thrown(apiAnswering(response).getChunk(BLOB_ID, 0, TOKEN));
    expect(bytes.code).toBe('NETWORK');
  });
});
