import { createHash, createHmac, hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  blobChunkCount,
  BLOB_CHUNK_SIZE,
  canonicalJson,
  checkContentRevisionTag,
  checkRevisionTag,
  contentRevisionTag,
  deriveInitialStreamKey,
  deriveRevisionTagKey,
  generateStreamKey,
  HaleCryptoError,
  keyId,
  openBytes,
  openRecord,
  openRecordVersion,
  parseRevisionTag,
  revisionTag,
  sealBytes,
  sealedKeyId,
  sealRecord,
  sealRecordVersion,
  SEALED_OVERHEAD,
  type RecordContext,
  type Result,
} from './index';

const key = generateStreamKey();
const ctx: RecordContext = {
  stream: 'Qk3abcdefghijklmnopqrs/allergy',
  id: '01HZX3Q4J5K6M7N8P9R0S1T2V3',
  epoch: 4,
  rev: 2,
};
const data = {
  kind: 'Allergy',
  substance: 'Penicillin',
  reaction: 'hives',
  severity: 'moderate',
  active: true,
};
/** RFC 8785 writes -0 as 0, so -0 cannot survive a round trip; compare with it normalised. */
const noNegativeZero = (v: unknown): unknown =>
  Object.is(v, -0)
    ? 0
    : Array.isArray(v)
      ? v.map(noNegativeZero)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, noNegativeZero(x)]))
        : v;

const code = (r: Result<unknown>) => (r.ok ? 'OK' : r.error.code);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('sealed records', () => {
  it('round trips and has the documented layout', () => {
    const sealed = sealRecord(key, ctx, data);
    expect(sealed[0]).toBe(1);
    expect(Buffer.from(sealed.subarray(1, 9)).toString('base64url')).toBe(keyId(key));
    expect(sealedKeyId(sealed)).toEqual({ ok: true, value: keyId(key) });
    expect(openRecord(key, sealed, ctx)).toEqual({ ok: true, value: data });
    expect(hex(sealRecord(key, ctx, data))).not.toBe(hex(sealed)); // fresh nonce each time
  });

  it('detects EVERY change of EVERY byte of a ~200-byte record (exhaustive)', () => {
    const sealed = sealRecord(key, ctx, data);
    expect(sealed.length).toBeGreaterThanOrEqual(180);
    expect(sealed.length).toBeLessThanOrEqual(260);
    const counts: Record<string, number> = {};
    const changed = Uint8Array.from(sealed);
    for (let i = 0; i < sealed.length; i++) {
      for (let v = 0; v < 256; v++) {
        if (v === sealed[i]) continue;
        changed[i] = v;
        const c = code(openRecord(key, changed, ctx));
        const expected = i === 0 ? 'UNSUPPORTED_VERSION' : i < 9 ? 'WRONG_KEY' : 'TAMPERED';
        if (c !== expected) expect(c, `byte ${i} = ${v}`).toBe(expected);
        counts[c] = (counts[c] ?? 0) + 1;
      }
      changed[i] = sealed[i]!;
    }
    expect(counts).toEqual({
      UNSUPPORTED_VERSION: 255,
      WRONG_KEY: 8 * 255,
      TAMPERED: (sealed.length - 9) * 255,
    });
  });

  it('truncation at every length gives TRUNCATED or TAMPERED', () => {
    const sealed = sealRecord(key, ctx, data);
    for (let len = 0; len < sealed.length; len++) {
      const c = code(openRecord(key, sealed.subarray(0, len), ctx));
      expect(c, `length ${len}`).toBe(len < SEALED_OVERHEAD ? 'TRUNCATED' : 'TAMPERED');
    }
    const extended = new Uint8Array(sealed.length + 1);
    extended.set(sealed);
    expect(code(openRecord(key, extended, ctx))).toBe('TAMPERED');
  });

  it('a record moved to another stream, id, epoch or revision is CONTEXT_MISMATCH', () => {
    const sealed = sealRecord(key, ctx, data);
    const moves: RecordContext[] = [
      { ...ctx, stream: 'Qk3abcdefghijklmnopqrs/medication' },
      { ...ctx, stream: 'Zz9otherpatient0000000/allergy' },
      { ...ctx, id: '01HZX3Q4J5K6M7N8P9R0S1T2V4' },
      { ...ctx, epoch: 5 },
      { ...ctx, rev: 3 }, // replay of an older revision as the newer one
      { ...ctx, rev: 1 },
    ];
    for (const moved of moves)
      expect(code(openRecord(key, sealed, moved)), JSON.stringify(moved)).toBe('CONTEXT_MISMATCH');
  });

  it('the wrong key is WRONG_KEY; an unknown version byte is UNSUPPORTED_VERSION', () => {
    const sealed = sealRecord(key, ctx, data);
    expect(code(openRecord(generateStreamKey(), sealed, ctx))).toBe('WRONG_KEY');
    for (const version of [0, 2, 255]) {
      const other = Uint8Array.from(sealed);
      other[0] = version;
      expect(code(openRecord(key, other, ctx))).toBe('UNSUPPORTED_VERSION');
      expect(code(sealedKeyId(other))).toBe('UNSUPPORTED_VERSION');
    }
  });

  it('names the key id of each key array, with several keys and copies in use at once', () => {
    const keys = [key, generateStreamKey(), Uint8Array.from(key), generateStreamKey()];
    for (let round = 0; round < 2; round++) {
      for (const k of keys) {
        const sealed = sealRecord(k, ctx, data);
        expect(sealedKeyId(sealed)).toEqual({ ok: true, value: keyId(k) });
        for (const other of keys) {
          const opened = openRecord(other, sealed, ctx);
          expect(opened.ok ? 'ok' : opened.error.code).toBe(keyId(other) === keyId(k) ? 'ok' : 'WRONG_KEY');
        }
      }
    }
  });

  it('refuses bad caller input', () => {
    expect(() => sealRecord(key, ctx, { when: new Date() })).toThrow(HaleCryptoError);
    expect(() => sealRecord(key, { ...ctx, rev: 1.5 }, data)).toThrow(HaleCryptoError);
    expect(() => sealRecord(key, { ...ctx, id: '' }, data)).toThrow(HaleCryptoError);
    expect(() => sealRecord(key.subarray(1), ctx, data)).toThrow(HaleCryptoError);
  });

  it('seal/open round trips arbitrary JSON data and contexts; any other context is refused (property)', () => {
    const context = fc.record({
      stream: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
      id: fc.string({ minLength: 1, maxLength: 30 }),
      epoch: fc.nat(),
      rev: fc.nat(),
    });
    fc.assert(
      fc.property(
        fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 4 }).map(noNegativeZero),
        context,
        context,
        (value, c, other) => {
          const sealed = sealRecord(key, c, value);
          expect(openRecord(key, sealed, c)).toStrictEqual({ ok: true, value });
          const sameContext =
            c.stream === other.stream && c.id === other.id && c.epoch === other.epoch && c.rev === other.rev;
          expect(code(openRecord(key, sealed, other))).toBe(sameContext ? 'OK' : 'CONTEXT_MISMATCH');
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('revision tags', () => {
  it('is n-<24 hex of sha256(sealed)> and the server can check it from ciphertext alone', () => {
    const sealed = sealRecord(key, ctx, data);
    const tag = revisionTag(2, sealed);
    expect(tag).toBe(`2-${createHash('sha256').update(sealed).digest('hex').slice(0, 24)}`);
    expect(parseRevisionTag(tag)).toEqual({ ok: true, value: { n: 2, hash: tag.slice(2) } });
    expect(checkRevisionTag(tag, sealed)).toEqual({ ok: true, value: 2 });
    expect(code(checkRevisionTag(tag, sealRecord(key, ctx, data)))).toBe('TAMPERED');
  });

  it('refuses malformed tags', () => {
    for (const bad of [
      '',
      '2',
      '-abc',
      '02-0123456789abcdef01234567',
      '2-0123456789ABCDEF01234567',
      '2-0123',
      'x-0123456789abcdef01234567',
      '99999999999999999-0123456789abcdef01234567',
    ]) {
      expect(code(parseRevisionTag(bad)), bad).toBe('BAD_ENCODING');
    }
    expect(() => revisionTag(-1, new Uint8Array(1))).toThrow(HaleCryptoError);
  });
});

describe('content revision tags', () => {
  const epoch0 = generateStreamKey();
  const tagKey = deriveRevisionTagKey(epoch0);
  const state = { stream: ctx.stream, id: ctx.id, rev: 3, deleted: false, data };

  it('is rv-<24 hex of HMAC-SHA256(HKDF(epoch key, "hale/rev/v1"), canonical state)> (checked with node:crypto)', () => {
    const nodeTagKey = Buffer.from(hkdfSync('sha256', epoch0, new Uint8Array(0), 'hale/rev/v1', 32));
    expect(hex(tagKey)).toBe(nodeTagKey.toString('hex'));
    const body = canonicalJson({ s: state.stream, i: state.id, r: 3, x: false, d: data });
    const expected = `3-${createHmac('sha256', nodeTagKey).update(body).digest('hex').slice(0, 24)}`;
    expect(contentRevisionTag(tagKey, state)).toBe(expected);
    // Independent of key order in data, so every device computes the same tag.
    const reordered = { ...state, data: Object.fromEntries(Object.entries(data).reverse()) };
    expect(contentRevisionTag(tagKey, reordered)).toBe(expected);
    expect(checkContentRevisionTag(tagKey, expected, reordered)).toEqual({ ok: true, value: 3 });
  });

  it('changes with any part of the state or the key, and checks refuse mismatches', () => {
    const tag = contentRevisionTag(tagKey, state);
    const variants = [
      { ...state, stream: 'Qk3abcdefghijklmnopqrs/medication' },
      { ...state, id: '01HZX3Q4J5K6M7N8P9R0S1T2V4' },
      { ...state, deleted: true },
      { ...state, data: { ...data, active: false } },
    ];
    for (const v of variants) {
      expect(contentRevisionTag(tagKey, v)).not.toBe(tag);
      expect(code(checkContentRevisionTag(tagKey, tag, v))).toBe('TAMPERED');
    }
    expect(code(checkContentRevisionTag(tagKey, tag, { ...state, rev: 4 }))).toBe('CONTEXT_MISMATCH');
    expect(contentRevisionTag(deriveRevisionTagKey(generateStreamKey()), state)).not.toBe(tag);
    expect(code(checkContentRevisionTag(tagKey, 'nonsense', state))).toBe('BAD_ENCODING');
    expect(() => contentRevisionTag(tagKey, { ...state, rev: -1 })).toThrow(HaleCryptoError);
    expect(() => contentRevisionTag(tagKey, { ...state, data: { n: NaN } })).toThrow(HaleCryptoError);
  });
});

describe('revision tag keys follow the epoch', () => {
  const root = new Uint8Array(32).fill(7);
  const stream = '2JSxGouKmAtG_inJGCCuMt/allergy';
  const state = { stream, id: '01J00000000000000000000001', rev: 3, deleted: false, data: { a: 1 } };

  it("epoch 0's tag key, and so every epoch-0 tag, is unchanged (known answer from before)", () => {
    const tagKey0 = deriveRevisionTagKey(deriveInitialStreamKey(root, stream));
    expect(contentRevisionTag(tagKey0, state)).toBe('3-4ae6e748ae751bca5c567b0b');
  });

  it("a version sealed and tagged at epoch 1 does not check under epoch 0's tag key", () => {
    const k0 = deriveInitialStreamKey(root, stream);
    const k1 = generateStreamKey();
    const [t0, t1] = [deriveRevisionTagKey(k0), deriveRevisionTagKey(k1)];
    expect(hex(t0)).not.toBe(hex(t1));
    const { tag } = sealRecordVersion(k1, t1, { ...state, epoch: 1, deleted: false }, state.data);
    expect(checkContentRevisionTag(t1, tag, state)).toEqual({ ok: true, value: 3 });
    expect(code(checkContentRevisionTag(t0, tag, state))).toBe('TAMPERED');
    expect(() => deriveRevisionTagKey(new Uint8Array(16))).toThrow(HaleCryptoError);
  });
});

describe('sealed record versions', () => {
  const tagKey = deriveRevisionTagKey(generateStreamKey());
  const vctx = { ...ctx, deleted: false };

  it('computes the same tag as contentRevisionTag, for any JSON content', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), fc.nat({ max: 1000 }), (value, deleted, rev) => {
        const { tag, sealed } = sealRecordVersion(key, tagKey, { ...ctx, rev, deleted }, value);
        expect(tag).toBe(
          contentRevisionTag(tagKey, { stream: ctx.stream, id: ctx.id, rev, deleted, data: value }),
        );
        const opened = openRecordVersion(key, sealed, { ...ctx, rev });
        expect(opened).toEqual({ ok: true, value: { data: noNegativeZero(value), tag, deleted } });
      }),
      { numRuns: 300 },
    );
  });

  it('seals the canonical plaintext {v, s, i, e, r, t, x, d} (opened by hand with tweetnacl)', () => {
    const { sealed, tag } = sealRecordVersion(key, tagKey, vctx, data);
    const plain = nacl.secretbox.open(sealed.subarray(33), sealed.subarray(9, 33), key);
    expect(plain).not.toBeNull();
    expect(new TextDecoder().decode(plain)).toBe(
      canonicalJson({ v: 1, s: ctx.stream, i: ctx.id, e: ctx.epoch, r: ctx.rev, t: tag, x: false, d: data }),
    );
  });

  it('refuses ciphertext opened under another stream, id, epoch or revision, a flipped byte, or another key', () => {
    const { sealed } = sealRecordVersion(key, tagKey, vctx, data);
    for (const other of [
      { ...ctx, stream: 'Qk3abcdefghijklmnopqrs/medication' },
      { ...ctx, id: '01HZX3Q4J5K6M7N8P9R0S1T2V4' },
      { ...ctx, epoch: 5 },
      { ...ctx, rev: 3 },
    ]) {
      expect(code(openRecordVersion(key, sealed, other))).toBe('CONTEXT_MISMATCH');
    }
    for (let i = 0; i < sealed.length; i += 7) {
      const bad = sealed.slice();
      bad[i] = bad[i]! ^ 1;
      expect(['TAMPERED', 'WRONG_KEY', 'UNSUPPORTED_VERSION']).toContain(
        code(openRecordVersion(key, bad, ctx)),
      );
    }
    expect(code(openRecordVersion(generateStreamKey(), sealed, ctx))).toBe('WRONG_KEY');
  });

  it('a record and a record version do not open as each other, whatever the content and flag', () => {
    // openRecord would hand a tombstone's last content back as live data, without its deletion flag.
    for (const deleted of [true, false]) {
      const { sealed } = sealRecordVersion(key, tagKey, { ...ctx, deleted }, data);
      expect(code(openRecord(key, sealed, ctx)), `deleted: ${deleted}`).toBe('TAMPERED');
      expect(code(openRecordVersion(key, sealed, ctx))).toBe('OK');
    }
    const record = sealRecord(key, ctx, data);
    expect(code(openRecordVersion(key, record, ctx))).toBe('TAMPERED');
    expect(code(openRecord(key, record, ctx))).toBe('OK');
  });

  it('refuses a record sealed without a bound tag, and bad input to seal', () => {
    expect(code(openRecordVersion(key, sealRecord(key, ctx, data), ctx))).toBe('TAMPERED');
    expect(() => sealRecordVersion(key, tagKey, { ...vctx, rev: -1 }, data)).toThrow(HaleCryptoError);
    expect(() => sealRecordVersion(key, tagKey, vctx, { n: NaN })).toThrow(HaleCryptoError);
    expect(() => sealRecordVersion(key, new Uint8Array(31), vctx, data)).toThrow(HaleCryptoError);
  });
});

describe('blob chunks', () => {
  const chunkCtx = { blobId: '01HZX3Q4J5K6M7N8P9R0S1T2V9', chunkIndex: 0, epoch: 4 };

  it('round trips empty, small and full-size chunks', () => {
    for (const size of [0, 1, 1000, BLOB_CHUNK_SIZE]) {
      const bytes = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
      const chunk = size > 65536 ? new Uint8Array(size).map((_, i) => bytes[i % bytes.length]!) : bytes;
      const sealed = sealBytes(key, chunkCtx, chunk);
      const r = openBytes(key, chunkCtx, sealed);
      expect(r.ok && Buffer.from(r.value).equals(Buffer.from(chunk)), `size ${size}`).toBe(true);
    }
  });

  it('streams a multi-chunk file and detects reordered, moved and altered chunks', () => {
    const file = crypto.getRandomValues(new Uint8Array(50_000));
    const chunkSize = 16_384;
    const n = blobChunkCount(file.length, chunkSize);
    expect(n).toBe(4);
    const sealed = Array.from({ length: n }, (_, i) =>
      sealBytes(key, { ...chunkCtx, chunkIndex: i }, file.subarray(i * chunkSize, (i + 1) * chunkSize)),
    );
    const parts = sealed.map((s, i) => openBytes(key, { ...chunkCtx, chunkIndex: i }, s));
    const joined = Buffer.concat(parts.map((p) => (p.ok ? p.value : new Uint8Array(0))));
    expect(joined.equals(Buffer.from(file))).toBe(true);

    expect(code(openBytes(key, { ...chunkCtx, chunkIndex: 1 }, sealed[2]!))).toBe('CONTEXT_MISMATCH');
    expect(code(openBytes(key, { ...chunkCtx, blobId: 'other' }, sealed[0]!))).toBe('CONTEXT_MISMATCH');
    expect(code(openBytes(key, { ...chunkCtx, epoch: 5 }, sealed[0]!))).toBe('CONTEXT_MISMATCH');
    expect(code(openBytes(generateStreamKey(), chunkCtx, sealed[0]!))).toBe('WRONG_KEY');
    const flipped = Uint8Array.from(sealed[0]!);
    flipped[1000]! ^= 4;
    expect(code(openBytes(key, chunkCtx, flipped))).toBe('TAMPERED');
    expect(code(openBytes(key, chunkCtx, sealed[0]!.subarray(0, 40)))).toBe('TRUNCATED');
  });

  it('records and chunks cannot be passed off as each other', () => {
    const record = sealRecord(key, ctx, data);
    const chunk = sealBytes(key, chunkCtx, new TextEncoder().encode('{"d":1}'));
    expect(code(openBytes(key, chunkCtx, record))).toBe('TAMPERED');
    expect(code(openRecord(key, chunk, ctx))).toBe('TAMPERED');
  });

  it('bounds blob sizes', () => {
    expect(blobChunkCount(0)).toBe(1);
    expect(blobChunkCount(100 * 1024 * 1024)).toBe(100);
    expect(() => blobChunkCount(100 * 1024 * 1024 + 1)).toThrow(HaleCryptoError);
  });
});
