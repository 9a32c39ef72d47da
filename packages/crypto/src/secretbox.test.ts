import { beforeEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import { isHaleCryptoError } from './errors';
import {
  openSecretbox,
  sealSecretbox,
  SECRETBOX_MAC_LENGTH,
  SECRETBOX_NONCE_LENGTH,
  useSecretbox,
} from './secretbox';

// Files share a worker's modules: one that installed libsodium's secretbox leaves it installed.
beforeEach(() => useSecretbox(null));

const key = nacl.randomBytes(32);
const split = (sealed: Uint8Array, header: number) => ({
  head: sealed.subarray(0, header),
  nonce: sealed.subarray(header, header + SECRETBOX_NONCE_LENGTH),
  box: sealed.subarray(header + SECRETBOX_NONCE_LENGTH),
});

describe('sealSecretbox / openSecretbox (tweetnacl low-level, no copies)', () => {
  it('writes header ‖ nonce ‖ exactly the box nacl.secretbox makes for that nonce', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 6000 }), fc.uint8Array({ maxLength: 12 }), (pt, header) => {
        const sealed = sealSecretbox(header, key, pt);
        const { head, nonce, box } = split(sealed, header.length);
        expect(head).toEqual(header);
        expect(box).toEqual(nacl.secretbox(pt, nonce, key));
        expect(openSecretbox(key, nonce, box)).toEqual(pt);
      }),
    );
  });

  it('seals strings as UTF-8 (lone surrogates as U+FFFD, like TextEncoder)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (text) => {
        const { nonce, box } = split(sealSecretbox(new Uint8Array(0), key, text), 0);
        expect(nacl.secretbox.open(box, nonce, key)).toEqual(new TextEncoder().encode(text));
      }),
    );
  });

  it('opens what nacl.secretbox sealed, and a large value after a small one and back', () => {
    for (const size of [0, 10, 100_000, 3]) {
      const pt = nacl.randomBytes(size);
      const nonce = nacl.randomBytes(SECRETBOX_NONCE_LENGTH);
      expect(openSecretbox(key, nonce, nacl.secretbox(pt, nonce, key))).toEqual(pt);
    }
  });

  it('uses a fresh nonce per seal', () => {
    const a = split(sealSecretbox(new Uint8Array(0), key, 'same'), 0);
    const b = split(sealSecretbox(new Uint8Array(0), key, 'same'), 0);
    expect(a.nonce).not.toEqual(b.nonce);
  });

  it('refuses a flipped bit anywhere, a wrong key, a wrong nonce and a box shorter than its MAC', () => {
    const pt = new TextEncoder().encode('{"allergy":"penicillin"}');
    const { nonce, box } = split(sealSecretbox(new Uint8Array(0), key, pt), 0);
    for (let i = 0; i < box.length; i++) {
      const bad = box.slice();
      bad[i]! ^= 1;
      expect(openSecretbox(key, nonce, bad)).toBeNull();
    }
    expect(openSecretbox(nacl.randomBytes(32), nonce, box)).toBeNull();
    expect(openSecretbox(key, nacl.randomBytes(SECRETBOX_NONCE_LENGTH), box)).toBeNull();
    expect(openSecretbox(key, nonce, box.subarray(0, SECRETBOX_MAC_LENGTH - 1))).toBeNull();
    // A refused box does not disturb the next open.
    expect(openSecretbox(key, nonce, box)).toEqual(pt);
  });

  it('throws INVALID_INPUT for a key or nonce of the wrong length', () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return isHaleCryptoError(error) && error.code === 'INVALID_INPUT';
      }
      return false;
    };
    expect(bad(() => sealSecretbox(new Uint8Array(0), new Uint8Array(31), 'x'))).toBe(true);
    expect(bad(() => openSecretbox(new Uint8Array(33), new Uint8Array(24), new Uint8Array(16)))).toBe(true);
    expect(bad(() => openSecretbox(key, new Uint8Array(23), new Uint8Array(16)))).toBe(true);
  });

  it('leaves no plaintext in its scratch buffer when a seal throws (no randomness for the nonce)', () => {
    // The scratch buffer is module state; the UTF-8 encoder writes into it, so its destination shows it.
    let scratch: ArrayBufferLike | undefined;
    // Bound before the spy replaces it: the encoder's own method, which the stand-in calls.
    const encodeInto = TextEncoder.prototype.encodeInto.bind(new TextEncoder());
    const spy = vi
      .spyOn(TextEncoder.prototype, 'encodeInto')
      .mockImplementation((source: string, destination: Uint8Array) => {
        scratch = destination.buffer;
        return encodeInto(source, destination);
      });
    // The nonce pool is module state shared with earlier tests of this worker: it may be dry already, so
    // randomness fails only once some plaintext went through the scratch buffer.
    const original = globalThis.crypto.getRandomValues.bind(globalThis.crypto);
    const random = vi.spyOn(globalThis.crypto, 'getRandomValues').mockImplementation(((array: Uint8Array) => {
      if (scratch === undefined) return original(array);
      throw new Error('no randomness');
    }) as typeof globalThis.crypto.getRandomValues);
    const secret = 'allergy: penicillin (anaphylaxis)';
    let thrown: unknown;
    try {
      // Nonces come from a pool of 4 KiB: seal until it runs dry and the refill throws.
      for (let i = 0; i < 4096 / SECRETBOX_NONCE_LENGTH + 2 && thrown === undefined; i += 1) {
        try {
          sealSecretbox(new Uint8Array(0), key, secret);
        } catch (error) {
          thrown = error;
        }
      }
    } finally {
      random.mockRestore();
      spy.mockRestore();
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(scratch).toBeDefined();
    expect(new Uint8Array(scratch ?? new ArrayBuffer(0)).every((b) => b === 0)).toBe(true);
  });
});
