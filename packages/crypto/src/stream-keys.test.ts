import { createHash, hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  base64urlDecode,
  base64urlEncode,
  canonicalBytes,
  deriveAccountKeys,
  deriveInitialStreamKey,
  generateRootSecret,
  generateStreamKey,
  HaleCryptoError,
  keyId,
  openSealed,
  sealTo,
  unwrapKey,
  wrapKey,
  type Result,
} from './index';

const patient = deriveAccountKeys(generateRootSecret()).wrapping;
const provider = deriveAccountKeys(generateRootSecret()).wrapping;
const key = generateStreamKey();
const ctx = { stream: 'Qk3abc/allergy', epoch: 2 };
const code = (r: Result<unknown>) => (r.ok ? 'OK' : r.error.code);
const bytesOf = (envelope: string) => {
  const r = base64urlDecode(envelope);
  if (!r.ok) throw new Error('bad envelope');
  return r.value;
};

describe('stream keys', () => {
  it('keyId is 8 bytes of sha256("hale/keyid/v1" ‖ key) in base64url', () => {
    const expected = createHash('sha256')
      .update('hale/keyid/v1')
      .update(key)
      .digest()
      .subarray(0, 8)
      .toString('base64url');
    expect(keyId(key)).toBe(expected);
    expect(keyId(key)).toHaveLength(11);
    expect(keyId(generateStreamKey())).not.toBe(keyId(key));
    expect(() => keyId(new Uint8Array(16))).toThrow(HaleCryptoError);
  });

  it('derives epoch-0 keys as HKDF(root, "hale/stream/v1|" + streamId) (checked with node:crypto)', () => {
    const root = generateRootSecret();
    const derived = deriveInitialStreamKey(root, ctx.stream);
    const expected = Buffer.from(
      hkdfSync('sha256', root, new Uint8Array(0), `hale/stream/v1|${ctx.stream}`, 32),
    );
    expect(Buffer.from(derived).equals(expected)).toBe(true);
    expect(Buffer.from(deriveInitialStreamKey(root, 'Qk3abc/medication')).equals(expected)).toBe(false);
    expect(() => deriveInitialStreamKey(root, '')).toThrow(HaleCryptoError);
    expect(() => deriveInitialStreamKey(root.subarray(1), ctx.stream)).toThrow(HaleCryptoError);
  });

  it('wraps and unwraps for the recipient; each envelope uses a fresh ephemeral key', () => {
    const a = wrapKey(key, patient.publicKey, ctx);
    const b = wrapKey(key, patient.publicKey, ctx);
    expect(a).not.toBe(b);
    expect(bytesOf(a)[0]).toBe(1);
    expect(Buffer.from(bytesOf(a).subarray(1, 33)).equals(Buffer.from(bytesOf(b).subarray(1, 33)))).toBe(
      false,
    );
    for (const env of [a, b]) {
      const r = unwrapKey(env, patient, ctx);
      expect(r.ok && Buffer.from(r.value).equals(Buffer.from(key))).toBe(true);
    }
  });

  it('refuses the wrong recipient with WRONG_KEY', () => {
    expect(code(unwrapKey(wrapKey(key, patient.publicKey, ctx), provider, ctx))).toBe('WRONG_KEY');
  });

  it('refuses another stream or epoch with CONTEXT_MISMATCH', () => {
    const env = wrapKey(key, patient.publicKey, ctx);
    expect(code(unwrapKey(env, patient, { ...ctx, stream: 'Qk3abc/medication' }))).toBe('CONTEXT_MISMATCH');
    expect(code(unwrapKey(env, patient, { ...ctx, epoch: 3 }))).toBe('CONTEXT_MISMATCH');
  });

  it('detects every single-byte change of an envelope', () => {
    const bytes = bytesOf(wrapKey(key, patient.publicKey, ctx));
    const seen = new Set<string>();
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const changed = Uint8Array.from(bytes);
        changed[i]! ^= mask;
        const c = code(unwrapKey(base64urlEncode(changed), patient, ctx));
        expect(c, `byte ${i} ^ ${mask}`).not.toBe('OK');
        // Only the version byte and the recipient tag (last 8 nonce bytes) give a code other than TAMPERED.
        const expected = i === 0 ? 'UNSUPPORTED_VERSION' : i >= 49 && i < 57 ? 'WRONG_KEY' : 'TAMPERED';
        expect(c, `byte ${i}`).toBe(expected);
        seen.add(c);
      }
    }
    expect(seen).toEqual(new Set(['UNSUPPORTED_VERSION', 'WRONG_KEY', 'TAMPERED']));
  });

  it('truncation, bad base64url and malformed content are refused with typed errors', () => {
    const bytes = bytesOf(wrapKey(key, patient.publicKey, ctx));
    for (let len = 0; len < bytes.length; len++) {
      expect(['TRUNCATED', 'TAMPERED']).toContain(
        code(unwrapKey(base64urlEncode(bytes.subarray(0, len)), patient, ctx)),
      );
    }
    expect(code(unwrapKey('not base64!', patient, ctx))).toBe('BAD_ENCODING');
    // Anyone can seal to a public key, so authenticated content is still checked.
    const forge = (body: unknown) => base64urlEncode(sealTo(patient.publicKey, canonicalBytes(body)));
    const k = base64urlEncode(key);
    expect(code(unwrapKey(forge({ v: 1, s: ctx.stream, e: 2, kid: keyId(key), k }), patient, ctx))).toBe(
      'OK',
    );
    expect(code(unwrapKey(forge({ v: 1, s: ctx.stream, e: 2, kid: 'AAAAAAAAAAA', k }), patient, ctx))).toBe(
      'TAMPERED',
    );
    expect(code(unwrapKey(forge({ v: 2, s: ctx.stream, e: 2, kid: keyId(key), k }), patient, ctx))).toBe(
      'TAMPERED',
    );
    expect(code(unwrapKey(forge([1, 2]), patient, ctx))).toBe('TAMPERED');
    expect(
      code(unwrapKey(base64urlEncode(sealTo(patient.publicKey, Uint8Array.of(0xff))), patient, ctx)),
    ).toBe('TAMPERED');
  });

  it('refuses bad caller input', () => {
    expect(() => wrapKey(key, patient.publicKey, { stream: '', epoch: 0 })).toThrow(HaleCryptoError);
    expect(() => wrapKey(key, patient.publicKey, { stream: 's', epoch: -1 })).toThrow(HaleCryptoError);
    expect(() => wrapKey(key, patient.publicKey.subarray(1), ctx)).toThrow(HaleCryptoError);
  });
});

describe('anonymous sealed box', () => {
  it('round trips (also empty input) and only the recipient opens it', () => {
    for (const plaintext of [
      new Uint8Array(0),
      new TextEncoder().encode('audit body'),
      nacl.randomBytes(5000),
    ]) {
      const sealed = sealTo(patient.publicKey, plaintext);
      const r = openSealed(patient, sealed);
      expect(r.ok && Buffer.from(r.value).equals(Buffer.from(plaintext))).toBe(true);
      expect(code(openSealed(provider, sealed))).toBe('WRONG_KEY');
    }
  });

  it('detects tampering, truncation and unknown versions', () => {
    const sealed = sealTo(patient.publicKey, new TextEncoder().encode('who saw my records'));
    const flipped = Uint8Array.from(sealed);
    flipped[sealed.length - 1]! ^= 1;
    expect(code(openSealed(patient, flipped))).toBe('TAMPERED');
    expect(code(openSealed(patient, sealed.subarray(0, 40)))).toBe('TRUNCATED');
    expect(code(openSealed(patient, new Uint8Array(0)))).toBe('TRUNCATED');
    const v2 = Uint8Array.from(sealed);
    v2[0] = 2;
    expect(code(openSealed(patient, v2))).toBe('UNSUPPORTED_VERSION');
  });
});
