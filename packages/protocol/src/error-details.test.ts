import { describe, expect, it } from 'vitest';
import {
  decodeServerFrame,
  decodeServerFrameTolerant,
  errorFrame,
  encodeFrame,
  validate,
  validateTolerant,
} from './codec';
import { protocolError } from './errors';
import { HttpErrorBody } from './http-api';
import { MAX_REPORTED_ISSUES } from './limits';
import { MAX_ERROR_DETAILS_DEPTH } from './messages';

/** `details` whose deepest value sits `depth` containers down, `details` itself being the first. */
const nested = (depth: number): Record<string, unknown> => ({
  a: JSON.parse('['.repeat(depth - 1) + ']'.repeat(depth - 1)),
});
const frameText = (details: unknown) =>
  JSON.stringify({ t: 'error', code: 'INTERNAL', message: 'm', details });

describe('error details are bounded in depth', () => {
  it('a 200,000-deep value in an error frame is a malformed frame, and what comes back can be written', () => {
    const n = 200_000;
    const text =
      '{"t":"error","code":"INTERNAL","message":"m","details":{"a":' + '['.repeat(n) + ']'.repeat(n) + '}}';
    for (const decode of [decodeServerFrameTolerant, decodeServerFrame]) {
      const decoded = decode(text);
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) {
        expect(decoded.error.code).toBe('BAD_MESSAGE');
        // Past the nesting any server frame may have: refused before it is parsed.
        expect(decoded.error.details).toEqual({
          issues: [{ path: '/', reason: 'nests objects and arrays deeper than 32' }],
        });
      }
      expect(() => JSON.stringify(decoded)).not.toThrow();
    }
  });

  it(`takes details exactly ${MAX_ERROR_DETAILS_DEPTH} levels deep and refuses one more, in frames and HTTP bodies`, () => {
    for (const decode of [decodeServerFrameTolerant, decodeServerFrame]) {
      expect(decode(frameText(nested(MAX_ERROR_DETAILS_DEPTH))).ok).toBe(true);
      const deeper = decode(frameText(nested(MAX_ERROR_DETAILS_DEPTH + 1)));
      expect(deeper.ok ? 'OK' : deeper.error.code).toBe('BAD_MESSAGE');
    }
    // Depth through objects counts the same as through arrays.
    let viaObjects: unknown = 1;
    for (let i = 0; i < MAX_ERROR_DETAILS_DEPTH; i++) viaObjects = { k: viaObjects };
    expect(decodeServerFrameTolerant(frameText(viaObjects)).ok).toBe(true);
    expect(decodeServerFrameTolerant(frameText({ k: viaObjects })).ok).toBe(false);
    for (const check of [validate, validateTolerant]) {
      const body = (details: unknown) => ({ code: 'INTERNAL', message: 'm', details });
      expect(check(HttpErrorBody, body(nested(MAX_ERROR_DETAILS_DEPTH))).ok).toBe(true);
      const deeper = check(HttpErrorBody, body(nested(MAX_ERROR_DETAILS_DEPTH + 1)));
      expect(deeper.ok ? 'OK' : deeper.error.code).toBe('BAD_MESSAGE');
    }
  });

  it('wide but shallow details pass (the frame size limit bounds their size)', () => {
    const wide = { list: Array.from({ length: 50_000 }, (_, i) => ({ i, s: [String(i)] })) };
    expect(decodeServerFrameTolerant(frameText(wide)).ok).toBe(true);
  });

  it("the server's own error frames still decode: a validation failure's issues, a version refusal", () => {
    const issues = Array.from({ length: MAX_REPORTED_ISSUES }, (_, i) => ({
      path: `/rows/${i}`,
      reason: 'r',
    }));
    const frames = [
      errorFrame(protocolError('BAD_MESSAGE', 'push: /rows/0: r', { issues }), 7),
      errorFrame(protocolError('UNSUPPORTED_VERSION', 'no common', { client: [9], server: [1, 2] })),
      errorFrame(protocolError('TOO_LARGE', 'too large', { limit: 1 })),
    ];
    for (const frame of frames) {
      expect(decodeServerFrame(encodeFrame(frame))).toEqual({ ok: true, value: frame });
    }
  });
});
