// libsodium's secretbox against tweetnacl's, the reference: the same bytes for the same key and nonce,
// each opening what the other sealed on every format that uses a secretbox, and both refusing the same
// wrong keys, wrong nonces and tampered boxes.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { generateStreamKey } from './stream-keys';
import {
  openBytes,
  openRecord,
  openRecordVersion,
  sealBytes,
  sealRecord,
  sealRecordVersion,
} from './record-seal';
import { deriveRevisionTagKey } from './record-seal';
import { openGrantPurpose, sealGrantPurpose } from './grant-purpose';
import {
  openSecretbox,
  sealSecretbox,
  secretboxName,
  SECRETBOX_MAC_LENGTH,
  SECRETBOX_NONCE_LENGTH,
  useSecretbox,
  type FastSecretbox,
} from './secretbox';
import { createSodiumSecretbox, loadSodiumSecretbox, type SodiumModule } from './sodium-secretbox';

let sodium: FastSecretbox;
beforeAll(async () => {
  const loaded = await loadSodiumSecretbox();
  if (loaded === null) throw new Error('libsodium did not load');
  sodium = loaded;
});
afterEach(() => useSecretbox(null));

const key = nacl.randomBytes(32);
/** Byte equality without the matcher's per-element walk (slow on a MiB). */
const same = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a !== null && b !== null && a.length === b.length && a.every((x, i) => x === b[i]);
const sealWith = (impl: FastSecretbox, message: Uint8Array, nonce: Uint8Array, k = key): Uint8Array => {
  const out = new Uint8Array(message.length + SECRETBOX_MAC_LENGTH);
  impl.sealInto(out, message, nonce, k);
  return out;
};
/** Runs `fn` with `impl` installed (null: tweetnacl). */
const under = <T>(impl: FastSecretbox | null, fn: () => T): T => {
  useSecretbox(impl);
  try {
    return fn();
  } finally {
    useSecretbox(null);
  }
};

describe('libsodium secretbox against tweetnacl', () => {
  it('makes exactly the box nacl.secretbox makes, for any size (0 and large among them)', () => {
    const sizes = [0, 1, 15, 16, 17, 1024, 4095, 4096, 4097, 100_000, 1024 * 1024 + 3, 5];
    for (const size of sizes) {
      const m = nacl.randomBytes(size);
      const n = nacl.randomBytes(SECRETBOX_NONCE_LENGTH);
      const box = sealWith(sodium, m, n);
      expect(same(box, nacl.secretbox(m, n, key))).toBe(true);
      expect(same(sodium.open(box, n, key), m)).toBe(true);
      expect(same(nacl.secretbox.open(box, n, key), m)).toBe(true);
    }
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        (m, n) => {
          expect(sealWith(sodium, m, n)).toEqual(nacl.secretbox(m, n, key));
        },
      ),
    );
  });

  it('refuses what tweetnacl refuses: a wrong key, a wrong nonce, any flipped bit, a short box', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (m, at, bit) => {
          const n = nacl.randomBytes(SECRETBOX_NONCE_LENGTH);
          const box = nacl.secretbox(m, n, key);
          const tampered = Uint8Array.from(box);
          tampered[at % box.length]! ^= 1 << bit;
          const otherKey = nacl.randomBytes(32);
          const otherNonce = Uint8Array.from(n);
          otherNonce[at % 24]! ^= 1 << bit;
          for (const [b, nn, k] of [
            [tampered, n, key],
            [box, otherNonce, key],
            [box, n, otherKey],
          ] as const) {
            expect(nacl.secretbox.open(b, nn, k)).toBeNull();
            expect(sodium.open(b, nn, k)).toBeNull();
          }
        },
      ),
    );
    for (const size of [0, 1, 15]) {
      expect(sodium.open(new Uint8Array(size), nacl.randomBytes(24), key)).toBeNull();
    }
  });

  it('sealSecretbox and openSecretbox give the same answers whichever is installed', () => {
    useSecretbox(sodium);
    expect(secretboxName()).toBe('libsodium');
    useSecretbox(null);
    expect(secretboxName()).toBe('tweetnacl');
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.string({ unit: 'binary', maxLength: 1000 })),
        fc.uint8Array({ maxLength: 12 }),
        fc.boolean(),
        (pt, header, fastFirst) => {
          const [a, b] = fastFirst ? [sodium, null] : [null, sodium];
          const sealed = under(a, () => sealSecretbox(header, key, pt));
          const nonce = sealed.subarray(header.length, header.length + SECRETBOX_NONCE_LENGTH);
          const box = sealed.subarray(header.length + SECRETBOX_NONCE_LENGTH);
          expect(sealed.subarray(0, header.length)).toEqual(header);
          const expected = typeof pt === 'string' ? new TextEncoder().encode(pt) : pt;
          expect(box).toEqual(nacl.secretbox(expected, nonce, key));
          expect(under(b, () => openSecretbox(key, nonce, box))).toEqual(expected);
          const wrong = Uint8Array.from(box);
          wrong[0]! ^= 1;
          expect(under(a, () => openSecretbox(key, nonce, wrong))).toBeNull();
          expect(under(b, () => openSecretbox(key, nonce, wrong))).toBeNull();
        },
      ),
    );
  });

  it('opens across on every secretbox format: records, versions, blob chunks, grant purposes', () => {
    const k = generateStreamKey();
    const tagKey = deriveRevisionTagKey(k);
    const ctx = {
      stream: 'Qk3abcdefghijklmnopqrs/allergy',
      id: '01HZX3Q4J5K6M7N8P9R0S1T2V3',
      epoch: 2,
      rev: 3,
    };
    const chunkCtx = { blobId: '01HZX3Q4J5K6M7N8P9R0S1T2V9', chunkIndex: 1, epoch: 2 };
    const data = { substance: 'peanut', note: 'é'.repeat(700) };
    const blob = nacl.randomBytes(70_000);
    const patient = nacl.box.keyPair();
    const grantee = nacl.box.keyPair();
    for (const [a, b] of [
      [sodium, null],
      [null, sodium],
    ] as const) {
      const record = under(a, () => sealRecord(k, ctx, data));
      expect(under(b, () => openRecord(k, record, ctx))).toEqual({ ok: true, value: data });
      const version = under(a, () => sealRecordVersion(k, tagKey, { ...ctx, deleted: false }, data));
      expect(under(b, () => openRecordVersion(k, version.sealed, ctx))).toEqual({
        ok: true,
        value: { data, tag: version.tag, deleted: false },
      });
      const chunk = under(a, () => sealBytes(k, chunkCtx, blob));
      const opened = under(b, () => openBytes(k, chunkCtx, chunk));
      expect(opened.ok && same(opened.value, blob)).toBe(true);
      const purpose = under(a, () => sealGrantPurpose('care', 'g1', patient.publicKey, grantee.publicKey));
      expect(under(b, () => openGrantPurpose(purpose, purpose.grantee, 'g1', grantee))).toEqual({
        ok: true,
        value: 'care',
      });
      // The same refusals, code for code.
      const tampered = Uint8Array.from(record);
      tampered[tampered.length - 1]! ^= 1;
      const refusals = (impl: FastSecretbox | null) =>
        under(impl, () => [
          openRecord(k, tampered, ctx),
          openRecord(generateStreamKey(), record, ctx),
          openRecord(k, record, { ...ctx, rev: 4 }),
          openBytes(k, { ...chunkCtx, chunkIndex: 2 }, chunk),
        ]);
      const codes = (rs: ReturnType<typeof refusals>) => rs.map((r) => (r.ok ? 'ok' : r.error.code));
      expect(codes(refusals(a))).toEqual(codes(refusals(b)));
      expect(codes(refusals(a)).every((c) => c !== 'ok')).toBe(true);
    }
  });

  it('zeroes its scratch region after each call, and grows it past its first size', () => {
    const heap = { bytes: new Uint8Array(1 << 20) };
    // A stand-in module around tweetnacl's functions over a fake heap, to see what is left in it.
    let next = 8;
    const fake: SodiumModule = {
      get HEAPU8() {
        return heap.bytes;
      },
      _malloc: (size) => {
        const at = next;
        next += size;
        return at;
      },
      _free: () => undefined,
      _crypto_secretbox_easy: (c, m, len, _hi, n, k) => {
        const h = heap.bytes;
        h.set(nacl.secretbox(h.slice(m, m + len), h.slice(n, n + 24), h.slice(k, k + 32)), c);
        return 0;
      },
      _crypto_secretbox_open_easy: (m, c, len, _hi, n, k) => {
        const h = heap.bytes;
        const opened = nacl.secretbox.open(h.slice(c, c + len), h.slice(n, n + 24), h.slice(k, k + 32));
        if (opened === null) return -1;
        h.set(opened, m);
        return 0;
      },
    };
    const box = createSodiumSecretbox(fake);
    const secret = new Uint8Array(5000).fill(0xab);
    const n = nacl.randomBytes(24);
    const small = sealWith(box, Uint8Array.of(0xab, 0xab), n);
    expect(box.open(small, n, key)).toEqual(Uint8Array.of(0xab, 0xab));
    const sealed = sealWith(box, secret, n);
    expect(sealed).toEqual(nacl.secretbox(secret, n, key));
    expect(box.open(sealed, n, key)).toEqual(secret);
    // No key and no plaintext byte left anywhere in the heap (ciphertext is public).
    const text = Buffer.from(heap.bytes).toString('hex');
    expect(text.includes(Buffer.from(key.subarray(0, 8)).toString('hex'))).toBe(false);
    expect(text.includes('abababababababab')).toBe(false);
  });
});
