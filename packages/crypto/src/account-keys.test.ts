import { createHash, hkdfSync } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it, vi } from 'vitest';
import {
  accountIdFromIdentityKey,
  deriveAccountKeys,
  deviceIdFromPublicKey,
  generateRootSecret,
  HaleCryptoError,
  KEY_LABELS,
  randomBytes,
  signingKeyPairFromSeed,
} from './index';
import { curveLibrary } from './curve-library';

const root = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
const nodeHkdf = (info: string) => new Uint8Array(hkdfSync('sha256', root, new Uint8Array(0), info, 32));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('deriveAccountKeys', () => {
  it('derives each key with HKDF-SHA256 and its architecture label (checked against node:crypto)', () => {
    const keys = deriveAccountKeys(root);
    expect(KEY_LABELS).toMatchObject({
      identity: 'hale/identity/v1',
      wrap: 'hale/wrap/v1',
      local: 'hale/local/v1',
    });
    expect(hex(keys.identity.secretKey.subarray(0, 32))).toBe(hex(nodeHkdf('hale/identity/v1')));
    expect(hex(keys.wrapping.secretKey)).toBe(hex(nodeHkdf('hale/wrap/v1')));
    expect(hex(keys.localKey)).toBe(hex(nodeHkdf('hale/local/v1')));
  });

  it('is deterministic and gives usable key pairs', () => {
    const a = deriveAccountKeys(root);
    const b = deriveAccountKeys(Uint8Array.from(root));
    expect(hex(a.identity.publicKey)).toBe(hex(b.identity.publicKey));
    expect(a.accountId).toBe(b.accountId);
    expect(a.identity.secretKey).toHaveLength(64);
    const msg = new TextEncoder().encode('m');
    expect(
      nacl.sign.detached.verify(msg, nacl.sign.detached(msg, a.identity.secretKey), a.identity.publicKey),
    ).toBe(true);
    expect(hex(nacl.scalarMult.base(a.wrapping.secretKey))).toBe(hex(a.wrapping.publicKey));
    const other = deriveAccountKeys(generateRootSecret());
    expect(other.accountId).not.toBe(a.accountId);
    expect(hex(other.localKey)).not.toBe(hex(a.localKey));
  });

  it('makes self-certifying ids: base64url(sha256(label ‖ key))[0..22]', () => {
    const { identity, accountId } = deriveAccountKeys(root);
    const expected = createHash('sha256')
      .update('hale/account/v1')
      .update(identity.publicKey)
      .digest('base64url');
    expect(accountId).toBe(expected.slice(0, 22));
    expect(accountIdFromIdentityKey(identity.publicKey)).toBe(accountId);
    const deviceExpected = createHash('sha256')
      .update('hale/device/v1')
      .update(identity.publicKey)
      .digest('base64url');
    expect(deviceIdFromPublicKey(identity.publicKey)).toBe(deviceExpected.slice(0, 22));
    expect(deviceIdFromPublicKey(identity.publicKey)).not.toBe(accountId);
  });

  it('refuses keys of the wrong length', () => {
    expect(() => deriveAccountKeys(new Uint8Array(16))).toThrow(HaleCryptoError);
    expect(() => accountIdFromIdentityKey(new Uint8Array(33))).toThrow(HaleCryptoError);
  });

  it('leaves no secret it derived outside the keys it returns, so zeroing those leaves none', () => {
    // What it hands the libraries: the identity seed (to @noble/curves) and the wrapping secret (to
    // tweetnacl, which copies it).
    const handed: Uint8Array[] = [];
    const ed25519PublicKey = curveLibrary.ed25519PublicKey;
    const fromSecretKey = nacl.box.keyPair.fromSecretKey.bind(nacl.box.keyPair);
    const seeds = vi.spyOn(curveLibrary, 'ed25519PublicKey').mockImplementation((seed) => {
      handed.push(seed);
      return ed25519PublicKey(seed);
    });
    const boxes = vi.spyOn(nacl.box.keyPair, 'fromSecretKey').mockImplementation((secret) => {
      handed.push(secret);
      return fromSecretKey(secret);
    });
    let keys;
    try {
      keys = deriveAccountKeys(generateRootSecret());
    } finally {
      seeds.mockRestore();
      boxes.mockRestore();
    }
    expect(handed).toHaveLength(2);
    const returned = [keys.identity.secretKey, keys.wrapping.secretKey, keys.localKey];
    const elsewhere = handed.filter((bytes) => !returned.some((r) => r.buffer === bytes.buffer));
    expect(elsewhere.filter((bytes) => bytes.some((b) => b !== 0))).toHaveLength(0);
  });
});

describe('signingKeyPairFromSeed', () => {
  it('gives tweetnacl’s key pair for every seed (fixed, edge and random)', () => {
    const seeds = [
      new Uint8Array(32),
      new Uint8Array(32).fill(0xff),
      ...Array.from({ length: 64 }, () => randomBytes(32)),
    ];
    for (const seed of seeds) {
      const ours = signingKeyPairFromSeed(seed);
      const theirs = nacl.sign.keyPair.fromSeed(seed);
      expect(ours.publicKey).toEqual(theirs.publicKey);
      expect(ours.secretKey).toEqual(theirs.secretKey);
    }
  });

  it('refuses a seed that is not 32 bytes', () => {
    expect(() => signingKeyPairFromSeed(new Uint8Array(31))).toThrow(/32 bytes/);
  });
});
