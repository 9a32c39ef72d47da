import { createHash, hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { createNodeSealTo, createNodeX25519 } from '../node/x25519';
import {
  base64urlDecode,
  base64urlEncode,
  boxKeyFromSharedSecret,
  canonicalBytes,
  createSealTo,
  deriveAccountKeys,
  deriveInitialStreamKey,
  generateRootSecret,
  generateStreamKey,
  HaleCryptoError,
  keyId,
  openDeviceName,
  openGrantPurpose,
  openSealed,
  openSealedText,
  SEALED_BOX_OVERHEAD,
  sealDeviceName,
  sealGrantPurpose,
  sealText,
  sealTo,
  tweetnaclX25519,
  unwrapKey,
  utf8Encode,
  wrapKey,
  type Result,
  type X25519,
} from './index';
import { LOW_ORDER, hexBytes, same } from './x25519.test-util';

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

  it('reads the key only where canonical JSON puts it: a second "k", or another layout, is refused', () => {
    const forgeText = (text: string) => base64urlEncode(sealTo(patient.publicKey, utf8Encode(text)));
    const k = base64urlEncode(key);
    const kid = keyId(key);
    const other = base64urlEncode(generateStreamKey());
    const canonical = `{"e":2,"k":"${k}","kid":"${kid}","s":"${ctx.stream}","v":1}`;
    expect(code(unwrapKey(forgeText(canonical), patient, ctx))).toBe('OK');
    for (const text of [
      `{"e":2,"k":"${other}","kid":"${kid}","s":"${ctx.stream}","v":1,"k":"${k}"}`,
      `{"e":2,"k":"${k}","kid":"${kid}","s":"${ctx.stream}","v":1,"k":"${k}"}`,
      `{ "e":2,"k":"${k}","kid":"${kid}","s":"${ctx.stream}","v":1}`,
      `{"k":"${k}","e":2,"kid":"${kid}","s":"${ctx.stream}","v":1}`,
      `{"e":2,"k":"${k}A","kid":"${kid}","s":"${ctx.stream}","v":1}`,
      `{"e":2,"k":"${k.slice(1)}","kid":"${kid}","s":"${ctx.stream}","v":1}`,
      `{"e":2,"k":"${k.slice(0, 42)}=","kid":"${kid}","s":"${ctx.stream}","v":1}`,
    ]) {
      expect(code(unwrapKey(forgeText(text), patient, ctx)), text).toBe('TAMPERED');
    }
    // The epoch is read from the parsed content, so a forged one is told apart as before.
    for (const e of ['-2', '2.5', '2e0']) {
      const text = `{"e":${e},"k":"${k}","kid":"${kid}","s":"${ctx.stream}","v":1}`;
      expect(code(unwrapKey(forgeText(text), patient, ctx)), text).toBe(
        e === '2e0' ? 'OK' : 'CONTEXT_MISMATCH',
      );
    }
  });

  // The key's text is placed after the epoch's number as canonical JSON writes it; every epoch a context
  // may name is written as plain digits (no exponent below 1e21), so none makes wrapKey throw.
  it('wraps and unwraps at every epoch a context may name, the smallest and the largest', () => {
    for (const epoch of [0, -0, 9, 10, 1e15, Number.MAX_SAFE_INTEGER]) {
      const at = { stream: ctx.stream, epoch };
      expect(code(unwrapKey(wrapKey(key, patient.publicKey, at), patient, at)), String(epoch)).toBe('OK');
    }
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

describe('injectable X25519 for sealing', () => {
  const native = createNodeX25519();

  it('node:crypto X25519 equals tweetnacl scalarMult on random, non-canonical and low-order keys', () => {
    for (let i = 0; i < 200; i++) {
      const secret = nacl.randomBytes(32);
      expect(same(native.publicKey(secret), nacl.scalarMult.base(secret)), `base ${i}`).toBe(true);
      // Any 32 bytes: points on the curve or its twist, top bit set half the time.
      const peer = nacl.randomBytes(32);
      expect(same(native.sharedSecret(secret, peer), nacl.scalarMult(secret, peer)), `shared ${i}`).toBe(
        true,
      );
      const honest = nacl.box.keyPair().publicKey;
      expect(same(native.sharedSecret(secret, honest), nacl.scalarMult(secret, honest))).toBe(true);
    }
    const secret = nacl.randomBytes(32);
    // u ≥ p (reduced mod p by both) and low-order points (all-zero output, which OpenSSL refuses to return).
    for (const peer of [...LOW_ORDER, hexBytes('f0'.padEnd(62, 'f') + '7f'), hexBytes('ff'.repeat(32))]) {
      expect(same(native.sharedSecret(secret, peer), nacl.scalarMult(secret, peer))).toBe(true);
    }
    expect(() => native.publicKey(secret.subarray(1))).toThrow(HaleCryptoError);
    expect(() => native.sharedSecret(secret, secret.subarray(1))).toThrow(HaleCryptoError);
  });

  it('derives the box key as nacl.box.before does', () => {
    for (let i = 0; i < 20; i++) {
      const a = nacl.box.keyPair();
      const b = nacl.box.keyPair();
      expect(
        same(
          boxKeyFromSharedSecret(nacl.scalarMult(a.secretKey, b.publicKey)),
          nacl.box.before(b.publicKey, a.secretKey),
        ),
      ).toBe(true);
    }
  });

  it("a native sealer writes nacl.box's bytes in sealTo's layout, and openSealed opens them", () => {
    const secrets: Uint8Array[] = [];
    const recording: X25519 = {
      ...native,
      publicKey: (secret) => {
        secrets.push(Uint8Array.from(secret));
        return native.publicKey(secret);
      },
    };
    const seal = createSealTo(recording);
    const nodeSeal = createNodeSealTo();
    for (const plaintext of [
      new Uint8Array(0),
      canonicalBytes({ kind: 'AccessEvent', n: 1 }),
      nacl.randomBytes(3000),
    ]) {
      const sealed = seal(patient.publicKey, plaintext);
      const esk = secrets.at(-1)!;
      const nonce = sealed.subarray(33, 57);
      expect(sealed.length).toBe(SEALED_BOX_OVERHEAD + plaintext.length);
      expect(sealed.length).toBe(sealTo(patient.publicKey, plaintext).length);
      expect(sealed[0]).toBe(1);
      expect(same(sealed.subarray(1, 33), nacl.scalarMult.base(esk))).toBe(true);
      expect(same(sealed.subarray(57), nacl.box(plaintext, nonce, patient.publicKey, esk))).toBe(true);
      for (const box of [sealed, nodeSeal(patient.publicKey, plaintext)]) {
        const r = openSealed(patient, box);
        expect(r.ok && same(r.value, plaintext)).toBe(true);
        expect(code(openSealed(provider, box))).toBe('WRONG_KEY');
      }
    }
    expect(secrets).toHaveLength(3); // one ephemeral key per seal
  });

  it('refuses to seal to a low-order key (a box everyone could open), whichever X25519 computes it', () => {
    const body = new TextEncoder().encode('who saw my records');
    for (const seal of [sealTo, createNodeSealTo(), createSealTo(tweetnaclX25519)]) {
      for (const point of LOW_ORDER) {
        expect(() => seal(point, body)).toThrow(HaleCryptoError);
        try {
          seal(point, body);
        } catch (error) {
          expect(error instanceof HaleCryptoError && error.code).toBe('INVALID_INPUT');
        }
      }
      expect(code(openSealed(patient, seal(patient.publicKey, body)))).toBe('OK');
    }
  });
});

describe('injectable X25519 for opening, and for every sealed form built on the box', () => {
  const implementations = [
    ['tweetnacl', tweetnaclX25519],
    ['node:crypto', createNodeX25519()],
  ] as const;
  const results = (box: Uint8Array, recipient = patient) =>
    implementations.map(([, x]) => {
      const r = openSealed(recipient, box, x);
      return r.ok ? `OK ${Buffer.from(r.value).toString('hex')}` : r.error.code;
    });

  it('opens the same boxes to the same bytes and refuses the same ones, whichever X25519 opens', () => {
    const body = canonicalBytes({ kind: 'AccessEvent', n: 7 });
    for (const [, sealWith] of implementations) {
      const box = sealTo(patient.publicKey, body, sealWith);
      const [a, b] = results(box);
      expect(a).toBe(`OK ${Buffer.from(body).toString('hex')}`);
      expect(b).toBe(a);
      expect(results(box, provider)).toEqual(['WRONG_KEY', 'WRONG_KEY']);
      // Every single-byte change: refused alike (the same code), never opened.
      for (let i = 0; i < box.length; i++) {
        const changed = Uint8Array.from(box);
        changed[i]! ^= 0x01;
        const [x, y] = results(changed);
        expect(y, `byte ${i}`).toBe(x);
        expect(x, `byte ${i}`).not.toMatch(/^OK/);
      }
    }
  });

  it('a box made with a low-order ephemeral key (shared secret zero) opens alike, as tweetnacl opened it', () => {
    // Anyone can make such a box (a sealed box never says who sealed it): the box key is HSalsa20(0).
    const body = new TextEncoder().encode('forged but well-formed');
    for (const point of LOW_ORDER.filter((p) => (p[31]! & 0x80) === 0)) {
      const nonce = new Uint8Array(24);
      nonce.set(nacl.randomBytes(16));
      nonce.set(sealTo(patient.publicKey, body).subarray(49, 57), 16); // the recipient tag
      const boxKey = boxKeyFromSharedSecret(new Uint8Array(32));
      const box = Uint8Array.from([1, ...point, ...nonce, ...nacl.secretbox(body, nonce, boxKey)]);
      const [a, b] = results(box);
      expect(b).toBe(a);
    }
  });

  it('key envelopes, sealed texts, device names and grant purposes: made with one, opened with the other', () => {
    const root = generateRootSecret();
    const keys = deriveAccountKeys(root);
    const other = deriveAccountKeys(generateRootSecret());
    for (const [, maker] of implementations) {
      for (const [, reader] of implementations) {
        const envelope = wrapKey(key, keys.wrapping.publicKey, ctx, maker);
        const opened = unwrapKey(envelope, keys.wrapping, ctx, reader);
        expect(opened.ok && same(opened.value, key)).toBe(true);
        expect(code(unwrapKey(envelope, other.wrapping, ctx, reader))).toBe('WRONG_KEY');
        expect(code(unwrapKey(envelope, keys.wrapping, { ...ctx, epoch: 3 }, reader))).toBe(
          'CONTEXT_MISMATCH',
        );

        const text = sealText('ward 4, bed 2', keys.wrapping.publicKey, { label: 'l', bind: 'b' }, maker);
        expect(openSealedText(text, keys.wrapping, { label: 'l', bind: 'b' }, reader)).toEqual({
          ok: true,
          value: 'ward 4, bed 2',
        });
        expect(code(openSealedText(text, keys.wrapping, { label: 'l', bind: 'c' }, reader))).toBe(
          'CONTEXT_MISMATCH',
        );

        const name = sealDeviceName('kitchen tablet', keys.wrapping.publicKey, 'dev1', maker);
        expect(openDeviceName(name, keys.wrapping, 'dev1', reader)).toEqual({
          ok: true,
          value: 'kitchen tablet',
        });
        expect(code(openDeviceName(name, other.wrapping, 'dev1', reader))).toBe('WRONG_KEY');

        const purpose = sealGrantPurpose(
          'follow-up',
          'g1',
          keys.wrapping.publicKey,
          other.wrapping.publicKey,
          maker,
        );
        expect(openGrantPurpose(purpose, purpose.patient, 'g1', keys.wrapping, reader)).toEqual({
          ok: true,
          value: 'follow-up',
        });
        expect(openGrantPurpose(purpose, purpose.grantee, 'g1', other.wrapping, reader)).toEqual({
          ok: true,
          value: 'follow-up',
        });
        expect(code(openGrantPurpose(purpose, purpose.grantee, 'g2', other.wrapping, reader))).toBe(
          'CONTEXT_MISMATCH',
        );
      }
    }
  });
});

describe('the X25519 given is the one used', () => {
  it('by every seal and open of a box, an envelope, a sealed text, a device name and a grant purpose', () => {
    const native = createNodeX25519();
    const calls: string[] = [];
    const recording: X25519 = {
      name: 'recording',
      publicKey: (secret) => (calls.push('publicKey'), native.publicKey(secret)),
      sharedSecret: (secret, peer) => (calls.push('sharedSecret'), native.sharedSecret(secret, peer)),
    };
    const used = (f: () => unknown): string[] => {
      calls.length = 0;
      f();
      return [...calls];
    };
    const seal = ['publicKey', 'sharedSecret'];
    const open = ['sharedSecret'];
    const keys = deriveAccountKeys(generateRootSecret());
    const text = { label: 'l', bind: 'b' };
    const box = sealTo(keys.wrapping.publicKey, new Uint8Array(3));
    expect(used(() => sealTo(keys.wrapping.publicKey, new Uint8Array(3), recording))).toEqual(seal);
    expect(used(() => openSealed(keys.wrapping, box, recording))).toEqual(open);
    const envelope = wrapKey(key, keys.wrapping.publicKey, ctx);
    expect(used(() => wrapKey(key, keys.wrapping.publicKey, ctx, recording))).toEqual(seal);
    expect(used(() => unwrapKey(envelope, keys.wrapping, ctx, recording))).toEqual(open);
    const sealed = sealText('x', keys.wrapping.publicKey, text);
    expect(used(() => sealText('x', keys.wrapping.publicKey, text, recording))).toEqual(seal);
    expect(used(() => openSealedText(sealed, keys.wrapping, text, recording))).toEqual(open);
    const name = sealDeviceName('x', keys.wrapping.publicKey, 'd');
    expect(used(() => sealDeviceName('x', keys.wrapping.publicKey, 'd', recording))).toEqual(seal);
    expect(used(() => openDeviceName(name, keys.wrapping, 'd', recording))).toEqual(open);
    const purpose = sealGrantPurpose('x', 'g', keys.wrapping.publicKey, keys.wrapping.publicKey);
    expect(
      used(() => sealGrantPurpose('x', 'g', keys.wrapping.publicKey, keys.wrapping.publicKey, recording)),
    ).toEqual([...seal, ...seal]);
    expect(used(() => openGrantPurpose(purpose, purpose.patient, 'g', keys.wrapping, recording))).toEqual(
      open,
    );
  });
});
