// `listStreams` in pages on the wire: the request's `cursor` and
// `limit` and their bounds, `next` in the answer, what a device built before paging makes of a page, and
// the server's own cursor payload.
import { describe, expect, it } from 'vitest';
import { Type } from '@sinclair/typebox';
import {
  decodeClientFrame,
  decodeServerFrame,
  decodeServerFrameTolerant,
  encodeFrame,
  validate,
  validateTolerant,
} from './codec';
import { SERVER_EXAMPLES } from './examples.test-util';
import { StreamsFrame } from './messages';
import {
  AcceptedCursorPayload,
  DirectoryCursorPayload,
  GrantsCursorPayload,
  MAX_CURSOR_CHARS,
  StreamsCursorPayload,
} from './index';
import { DEFAULT_STREAMS_PAGE, MAX_STREAMS_PAGE } from './paging';
import { MESSAGE_TABLE } from './protocol';
import { Rid } from './primitives';

const CURSOR = 'eyJ2IjoxfQ';
const codeOf = (result: { ok: boolean; error?: { code: string } }) => (result.ok ? 'ok' : result.error?.code);

describe('listStreams pages on the socket', () => {
  it('answer streams, or BAD_CURSOR among their errors', () => {
    expect(MESSAGE_TABLE.listStreams.errors).toContain('BAD_CURSOR');
    expect(MESSAGE_TABLE.listStreams.reply).toEqual(['streams']);
  });

  it('default to the largest page, so a request without limit lists in the fewest answers', () => {
    expect(DEFAULT_STREAMS_PAGE).toBe(MAX_STREAMS_PAGE);
  });

  it('take cursor and limit, each bounded; nothing else', () => {
    const frame = { t: 'listStreams', rid: 1, cursor: CURSOR, limit: MAX_STREAMS_PAGE };
    expect(decodeClientFrame(JSON.stringify(frame))).toEqual({ ok: true, value: frame });
    expect(codeOf(decodeClientFrame(JSON.stringify({ t: 'listStreams', rid: 1 })))).toBe('ok');
    expect(codeOf(decodeClientFrame(JSON.stringify({ t: 'listStreams', rid: 1, limit: 1 })))).toBe('ok');
    const broken: Array<[Record<string, unknown>, string]> = [
      [{ limit: 0 }, 'BAD_MESSAGE'],
      [{ limit: -1 }, 'BAD_MESSAGE'],
      [{ limit: MAX_STREAMS_PAGE + 1 }, 'BAD_MESSAGE'],
      [{ limit: 2.5 }, 'BAD_MESSAGE'],
      [{ limit: '10' }, 'BAD_MESSAGE'],
      [{ cursor: '' }, 'BAD_MESSAGE'],
      [{ cursor: 'a+b/c=' }, 'BAD_MESSAGE'],
      [{ cursor: 'a'.repeat(MAX_CURSOR_CHARS + 1) }, 'TOO_LARGE'],
      [{ side: 'issued' }, 'BAD_MESSAGE'],
      [{ offset: 10 }, 'BAD_MESSAGE'],
    ];
    for (const [fields, code] of broken) {
      const text = JSON.stringify({ t: 'listStreams', rid: 1, ...fields });
      expect(codeOf(decodeClientFrame(text)), text.slice(0, 80)).toBe(code);
    }
  });

  it('a page carries next; a device built before paging drops it and keeps the streams', () => {
    const streams = SERVER_EXAMPLES.find((f) => f.t === 'streams')!;
    const page = { ...streams, next: CURSOR };
    expect(decodeServerFrame(encodeFrame(page))).toEqual({ ok: true, value: page });
    expect(codeOf(decodeServerFrame(encodeFrame({ ...streams, next: 'not a cursor!' })))).toBe('BAD_MESSAGE');
    expect(decodeServerFrameTolerant(encodeFrame(page))).toEqual({ ok: true, value: page });
    // A tolerant build from before paging (its `streams` schema without `next`) takes the rows, drops next.
    const older = Type.Object(
      { t: Type.Literal('streams'), rid: Rid, streams: StreamsFrame.properties.streams },
      { additionalProperties: false },
    );
    expect(validateTolerant(older, page)).toEqual({ ok: true, value: streams });
    expect(validate(older, page).ok).toBe(false);
  });
});

describe('the streams cursor payload (the server reads it back)', () => {
  const payload = { v: 1, k: 'streams', stream: 'QUFBQUFBQUFBQUFBQUFBQUFB/allergy' };

  it('is closed, of its own listing, with a bounded key', () => {
    expect(validate(StreamsCursorPayload, payload).ok).toBe(true);
    const refused: unknown[] = [
      { ...payload, v: 2 },
      { ...payload, k: 'grants' },
      { ...payload, stream: '' },
      { ...payload, stream: 'x'.repeat(65) },
      { ...payload, stream: 7 },
      { ...payload, extra: 1 },
      { v: 1, k: 'streams' },
    ];
    for (const value of refused)
      expect(validate(StreamsCursorPayload, value).ok, JSON.stringify(value)).toBe(false);
    // No other listing's cursor reads as a streams cursor, nor a streams cursor as theirs.
    const others = [
      { v: 1, k: 'grants', side: 'issued', issuedAt: 'i', grantId: 'g', active: false },
      { v: 1, k: 'directory', q: '', name: 'Dr A', accountId: 'a' },
      { v: 1, k: 'accepted', patientId: 'p' },
    ];
    for (const other of others) expect(validate(StreamsCursorPayload, other).ok).toBe(false);
    expect(validate(GrantsCursorPayload, payload).ok).toBe(false);
    expect(validate(DirectoryCursorPayload, payload).ok).toBe(false);
    expect(validate(AcceptedCursorPayload, payload).ok).toBe(false);
  });
});
