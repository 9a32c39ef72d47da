import { describe, expect, it } from 'vitest';
import { STREAM_TYPES } from '@hale/model';
import { Value } from '@sinclair/typebox/value';
import { ProtocolError } from './errors';
import { batchByLimits, docBytes } from './documents';
import { PATIENT } from './examples.test-util';
import {
  B64uFixed,
  GRANTABLE_STREAM_TYPES,
  GrantableStreamType,
  IsoDateTime,
  StreamId,
  b64uDecodedLength,
  b64uLength,
  isB64u,
  isIsoDateTime,
  isRevTag,
  parseIsoDateTime,
  parseRevTag,
  parseStreamId,
  streamId,
  toIsoDateTime,
} from './primitives';

describe('stream ids', () => {
  it('round-trips every stream type', () => {
    for (const type of STREAM_TYPES) {
      const id = streamId(PATIENT, type);
      expect(id).toBe(`${PATIENT}/${type}`);
      expect(Value.Check(StreamId, id)).toBe(true);
      expect(parseStreamId(id)).toStrictEqual({ ok: true, value: { patientId: PATIENT, type } });
    }
  });

  it('rejects malformed stream ids in the parser and the schema alike', () => {
    const bad = [
      'x/allergy',
      `${PATIENT}/bogus`,
      `${PATIENT}allergy`,
      `${PATIENT}/allergy/extra`,
      `/${PATIENT}/allergy`,
      `${PATIENT}/`,
      `${PATIENT}/Allergy`,
      '',
    ];
    for (const id of bad) {
      const parsed = parseStreamId(id);
      expect(parsed.ok, id).toBe(false);
      if (!parsed.ok) expect(parsed.error.code).toBe('BAD_MESSAGE');
      expect(Value.Check(StreamId, id), id).toBe(false);
    }
    expect(parseStreamId(42).ok).toBe(false);
  });

  it('refuses to build a stream id from a malformed account id', () => {
    expect(() => streamId('short', 'allergy')).toThrow(ProtocolError);
    try {
      streamId(`${PATIENT}/x`, 'allergy');
    } catch (e) {
      expect(e instanceof ProtocolError && e.code).toBe('BAD_MESSAGE');
    }
  });

  it('never lets a grant name the audit stream', () => {
    expect(GRANTABLE_STREAM_TYPES).not.toContain('audit');
    expect(GRANTABLE_STREAM_TYPES).toHaveLength(STREAM_TYPES.length - 1);
    expect(Value.Check(GrantableStreamType, 'audit')).toBe(false);
    expect(Value.Check(GrantableStreamType, 'note')).toBe(true);
  });
});

describe('revision tags', () => {
  it('parses the write counter and hash', () => {
    expect(parseRevTag('12-0123456789abcdef01234567')).toStrictEqual({
      n: 12,
      hash: '0123456789abcdef01234567',
    });
  });

  it('rejects zero or padded counters, wrong hash length and upper-case hex', () => {
    for (const tag of [
      '0-0123456789abcdef01234567',
      '01-0123456789abcdef01234567',
      '1-0123456789abcdef0123456',
      '1-0123456789ABCDEF01234567',
      '12345678901-0123456789abcdef01234567',
      '1_0123456789abcdef01234567',
    ]) {
      expect(isRevTag(tag), tag).toBe(false);
      expect(parseRevTag(tag)).toBeNull();
    }
  });
});

describe('timestamps', () => {
  it('accepts exactly what toISOString writes', () => {
    const now = toIsoDateTime(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(isIsoDateTime(now)).toBe(true);
    expect(parseIsoDateTime(now)).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
  });

  it('rejects other spellings and impossible dates', () => {
    for (const text of [
      '2025-01-02T03:04:05Z',
      '2025-01-02T03:04:05.678+01:00',
      '2025-01-02 03:04:05.678Z',
      '2025-13-02T03:04:05.678Z',
      '2025-02-30T03:04:05.678Z',
      '2023-02-29T00:00:00.000Z',
    ]) {
      expect(isIsoDateTime(text), text).toBe(false);
    }
    // The schema (pattern only) still refuses the malformed spellings.
    expect(Value.Check(IsoDateTime, '2025-01-02T03:04:05Z')).toBe(false);
  });
});

describe('base64url', () => {
  it('computes encoded and decoded lengths', () => {
    expect(b64uLength(32)).toBe(43);
    expect(b64uLength(64)).toBe(86);
    expect(b64uDecodedLength('A'.repeat(43))).toBe(32);
    expect(b64uDecodedLength('A'.repeat(86))).toBe(64);
    expect(b64uDecodedLength('A'.repeat(5))).toBeNull();
    expect(docBytes({ ct: 'A'.repeat(b64uLength(1000)) })).toBe(1000);
  });

  it('fixed-size schemas accept exactly that many bytes', () => {
    const sig = B64uFixed(64);
    expect(Value.Check(sig, 'A'.repeat(86))).toBe(true);
    expect(Value.Check(sig, 'A'.repeat(85))).toBe(false);
    expect(Value.Check(sig, 'A'.repeat(87))).toBe(false);
    expect(Value.Check(sig, `${'A'.repeat(85)}=`)).toBe(false);
    expect(isB64u('ab-_')).toBe(true);
    expect(isB64u('ab+/')).toBe(false);
    expect(isB64u('abcde')).toBe(false);
  });
});

describe('batchByLimits', () => {
  it('respects count and byte limits and keeps order', () => {
    const sizes = [3, 3, 3, 9, 1, 1, 1, 1];
    const batches = batchByLimits(sizes, (n) => n, 3, 6);
    expect(batches).toEqual([[3, 3], [3], [9], [1, 1, 1], [1]]);
    expect(batches.flat()).toEqual(sizes);
  });

  it('sends an item larger than the byte limit alone rather than stalling', () => {
    expect(batchByLimits([10, 10], (n) => n, 5, 4)).toEqual([[10], [10]]);
    expect(batchByLimits([], (n: number) => n, 5, 4)).toEqual([]);
  });
});
