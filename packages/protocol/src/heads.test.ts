// The signed-stream-head frames: a `head` page must list leaves by id ascending and name its last as
// `next`; pages are bounded; a leaf is read from a stored revision tag only when the tag is well formed.
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame, encodeFrame } from './codec';
import { leafOfRev } from './heads';
import { MAX_HEAD_LEAVES_PAGE } from './limits';
import type { HeadFrame } from './messages';
import { ALLERGY, NOTE, RECORD, RECORD_2, signedHead } from './examples.test-util';

const leaf = (id: string) => ({ id, rv: 1, deleted: false, tag: '0123456789abcdef01234567' });
const page = (over: Partial<HeadFrame>): HeadFrame => ({
  t: 'head',
  rid: 1,
  stream: ALLERGY,
  signed: signedHead,
  leaves: [leaf(RECORD), leaf(RECORD_2)],
  ...over,
});
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ulid = (i: number): string =>
  `01HZY3K8Q5N9V7W2X4${[...i.toString(32).padStart(8, '0')].map((c) => CROCKFORD[parseInt(c, 32)]!).join('')}`;

describe('head pages', () => {
  it('decodes a page by id ascending whose next is its last id', () => {
    expect(decodeServerFrame(encodeFrame(page({ next: RECORD_2 }))).ok).toBe(true);
  });

  it('refuses leaves out of order or repeated, a wrong next, and a statement of another stream', () => {
    for (const [frame, path] of [
      [page({ leaves: [leaf(RECORD_2), leaf(RECORD)] }), '/leaves/1/id'],
      [page({ leaves: [leaf(RECORD), leaf(RECORD)] }), '/leaves/1/id'],
      [page({ next: RECORD }), '/next'],
      [page({ stream: NOTE }), '/signed/head/stream'],
    ] as const) {
      const result = decodeServerFrame(encodeFrame(frame));
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('BAD_MESSAGE');
        expect(JSON.stringify(result.error.details)).toContain(path);
      }
    }
  });

  it(`refuses a page of more than ${MAX_HEAD_LEAVES_PAGE} leaves, and a getHead asking for more`, () => {
    const leaves = Array.from({ length: MAX_HEAD_LEAVES_PAGE + 1 }, (_, i) => leaf(ulid(i)));
    expect(decodeServerFrame(encodeFrame(page({ leaves }))).ok).toBe(false);
    expect(decodeServerFrame(encodeFrame(page({ leaves: leaves.slice(1) }))).ok).toBe(true);
    const ask = (limit: number) =>
      decodeClientFrame(JSON.stringify({ t: 'getHead', rid: 1, stream: ALLERGY, limit }));
    expect(ask(MAX_HEAD_LEAVES_PAGE).ok).toBe(true);
    expect(ask(MAX_HEAD_LEAVES_PAGE + 1).ok).toBe(false);
  });

  it('refuses a putHead whose statement is malformed', () => {
    const bad = { ...signedHead, head: { ...signedHead.head, v: 2 } };
    const result = decodeClientFrame(JSON.stringify({ t: 'putHead', rid: 1, head: bad }));
    expect(result.ok).toBe(false);
  });
});

describe('leafOfRev', () => {
  it('splits a revision tag into its write count and tag', () => {
    expect(leafOfRev(RECORD, '12-0123456789abcdef01234567', true)).toEqual({
      id: RECORD,
      rv: 12,
      deleted: true,
      tag: '0123456789abcdef01234567',
    });
    expect(leafOfRev(RECORD, '0-0123456789abcdef01234567', false)).toBeNull();
    expect(leafOfRev(RECORD, '1-0123', false)).toBeNull();
  });
});
