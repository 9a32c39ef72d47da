// Seal once, step 1: a stored version keeps the wire bytes, and its local binding refuses every rewrite
// of what it binds — each clear-state input, the document's place, one byte of the ciphertext — and
// cannot be made without the at-rest key.
import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  base64urlEncode,
  deriveRevisionTagKey,
  generateStreamKey,
  openRecordVersion,
  randomBytes,
  sealRecordVersion,
} from '@hale/crypto';
import type { PushDoc } from '@hale/protocol';
import {
  checkLocalBinding,
  localBinding,
  pushDocOf,
  storedVersionOf,
  createCtDigests,
  type LocalPlace,
  type StoredVersion,
} from './stored-version';

const atRestKey = randomBytes(32);
const streamKey = generateStreamKey();
const ctx = { stream: 'Qk3abcdefghijklmnopqrs/allergy', id: '01HZX3Q4J5K6M7N8P9R0S1T2V3', epoch: 0, rev: 1 };
const sealed = sealRecordVersion(
  streamKey,
  deriveRevisionTagKey(streamKey),
  { ...ctx, deleted: false },
  {
    substance: 'peanut',
  },
);
const doc = {
  stream: ctx.stream,
  id: ctx.id,
  rev: sealed.tag,
  deleted: false,
  epoch: 0,
  ct: base64urlEncode(sealed.sealed),
  author: 'dev-1',
  sig: 'sig-of-the-author',
} as PushDoc;
const place: LocalPlace = {
  db: 'hale-device',
  collection: 'records',
  id: ctx.id,
  rxRev: '1-abc',
  clearDigest: 'digest-of-clear-fields',
};

describe('a stored version (seal once)', () => {
  it('keeps the wire bytes: the push sends them unchanged, and they still open', () => {
    const stored = storedVersionOf(atRestKey, place, doc);
    expect(pushDocOf(stored, doc)).toEqual(doc);
    const bytes = base64urlDecode(stored.ct);
    expect(bytes.ok && openRecordVersion(streamKey, bytes.value, ctx).ok).toBe(true);
    const unsigned = { ...doc };
    delete unsigned.sig;
    expect(pushDocOf(storedVersionOf(atRestKey, place, unsigned), unsigned)).toEqual(unsigned);
  });

  it('binds the clear state, the place and the ciphertext: any change is refused', () => {
    const stored = storedVersionOf(atRestKey, place, doc);
    expect(checkLocalBinding(atRestKey, place, stored)).toBe(true);
    for (const field of ['db', 'collection', 'id', 'rxRev', 'clearDigest'] as const) {
      expect(checkLocalBinding(atRestKey, { ...place, [field]: `${place[field]}x` }, stored)).toBe(false);
    }
    const flipped = Uint8Array.from(sealed.sealed);
    flipped[flipped.length - 1]! ^= 1;
    const tampered: StoredVersion = { ...stored, ct: base64urlEncode(flipped) };
    expect(checkLocalBinding(atRestKey, place, tampered)).toBe(false);
    // Another document's bytes and binding moved here: bound to its own place.
    const other = { ...place, id: '01HZX3Q4J5K6M7N8P9R0S1T2V4' };
    expect(checkLocalBinding(atRestKey, place, storedVersionOf(atRestKey, other, doc))).toBe(false);
  });

  it('binds the same with remembered ct digests: a changed byte is another string, hashed anew', () => {
    const digests = createCtDigests();
    const stored = storedVersionOf(atRestKey, place, doc, digests);
    expect(stored).toEqual(storedVersionOf(atRestKey, place, doc));
    expect(checkLocalBinding(atRestKey, place, stored, digests)).toBe(true);
    const flipped = Uint8Array.from(sealed.sealed);
    flipped[flipped.length - 1]! ^= 1;
    expect(checkLocalBinding(atRestKey, place, { ...stored, ct: base64urlEncode(flipped) }, digests)).toBe(
      false,
    );
    expect(checkLocalBinding(atRestKey, place, { ...stored, ct: `${stored.ct}!` }, digests)).toBe(false);
  });

  it('cannot be made or checked without the at-rest key, and refuses what is malformed', () => {
    const stored = storedVersionOf(atRestKey, place, doc);
    expect(checkLocalBinding(randomBytes(32), place, stored)).toBe(false);
    expect(localBinding(randomBytes(32), place, doc.ct)).not.toBe(stored.lb);
    expect(checkLocalBinding(atRestKey, place, { ...stored, lb: '!!' })).toBe(false);
    expect(checkLocalBinding(atRestKey, place, { ...stored, ct: '!!' })).toBe(false);
    expect(() => localBinding(new Uint8Array(16), place, doc.ct)).toThrow();
  });
});
