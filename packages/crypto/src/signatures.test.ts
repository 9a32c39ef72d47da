import { createNodeEd25519 } from '../node/ed25519';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  chooseEd25519,
  createWebCryptoEd25519,
  detectEd25519,
  ed25519Pkcs8FromSecretKey,
  HaleCryptoError,
  signCanonical,
  tweetnaclEd25519,
  verifyCanonical,
  webCryptoEd25519,
  type Ed25519,
} from './index';

const implementations: Ed25519[] = [tweetnaclEd25519, webCryptoEd25519, createNodeEd25519()];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const kp = nacl.sign.keyPair.fromSeed(Uint8Array.from({ length: 32 }, (_, i) => 255 - i));
const msg = new TextEncoder().encode('a message worth signing');

/** Adds the group order L to S: the same signature in a non-canonical (malleated) encoding. */
function malleate(sig: Uint8Array): Uint8Array {
  const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');
  const out = Uint8Array.from(sig);
  let carry = 0;
  for (let i = 0; i < 32; i++) {
    const v = out[32 + i]! + L[i]! + carry;
    out[32 + i] = v & 0xff;
    carry = v >> 8;
  }
  return out;
}

describe('Ed25519 implementations', () => {
  it('match the RFC 8032 test vector 1', async () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
    const vector = nacl.sign.keyPair.fromSeed(seed);
    expect(hex(vector.publicKey)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    for (const ed of implementations) {
      expect(hex(await ed.sign(vector.secretKey, new Uint8Array(0))), ed.name).toBe(
        'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
      );
    }
  });

  it('every implementation verifies every other implementation’s signatures', async () => {
    for (const signer of implementations) {
      const sig = await signer.sign(kp.secretKey, msg);
      for (const verifier of implementations) {
        expect(await verifier.verify(kp.publicKey, msg, sig), `${signer.name} → ${verifier.name}`).toBe(true);
      }
    }
  });

  it('every implementation refuses bad signatures', async () => {
    const sig = await tweetnaclEd25519.sign(kp.secretKey, msg);
    const other = nacl.sign.keyPair();
    const flipped = Uint8Array.from(sig);
    flipped[10]! ^= 0x40;
    const malleated = malleate(sig);
    // Without the shared S < L check tweetnacl alone would take the malleated copy.
    expect(nacl.sign.detached.verify(msg, malleated, kp.publicKey)).toBe(true);
    const otherMsg = new TextEncoder().encode('a message worth signing!');
    for (const ed of implementations) {
      const cases: Array<[string, Promise<boolean>]> = [
        ['flipped bit', ed.verify(kp.publicKey, msg, flipped)],
        ['other message', ed.verify(kp.publicKey, otherMsg, sig)],
        ['other key', ed.verify(other.publicKey, msg, sig)],
        ['short signature', ed.verify(kp.publicKey, msg, sig.subarray(0, 63))],
        ['short key', ed.verify(kp.publicKey.subarray(1), msg, sig)],
        ['zero key', ed.verify(new Uint8Array(32), msg, sig)],
        ['malleated S+L', ed.verify(kp.publicKey, msg, malleated)],
        ['all-zero signature', ed.verify(kp.publicKey, msg, new Uint8Array(64))],
      ];
      for (const [what, p] of cases) expect(await p, `${ed.name}: ${what}`).toBe(false);
    }
  });

  it('sign refuses malformed secret keys with INVALID_INPUT', async () => {
    for (const ed of implementations) {
      await expect(ed.sign(new Uint8Array(32), msg)).rejects.toThrow(HaleCryptoError);
    }
  });

  it('chooseEd25519 picks WebCrypto on Node 20 and falls back to tweetnacl when it is missing or wrong', async () => {
    expect((await chooseEd25519()).name).toBe('webcrypto');
    expect(await chooseEd25519()).toBe(await chooseEd25519());
    expect((await detectEd25519(createWebCryptoEd25519(() => undefined))).name).toBe('tweetnacl');
    const lying: Ed25519 = { name: 'lying', sign: tweetnaclEd25519.sign, verify: async () => true };
    expect((await detectEd25519(lying)).name).toBe('tweetnacl');
    const wrong: Ed25519 = {
      name: 'wrong',
      sign: async () => new Uint8Array(64),
      verify: tweetnaclEd25519.verify,
    };
    expect((await detectEd25519(wrong)).name).toBe('tweetnacl');
  });

  it('WebCrypto keeps working past its key cache bound', async () => {
    const ed = createWebCryptoEd25519();
    // Key pairs from node:crypto: tweetnacl key generation (~150/s) would dominate the test.
    const pairs = Array.from({ length: 300 }, () => {
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const spki = createPublicKey(
        createPrivateKey({
          key: Buffer.from(ed25519Pkcs8FromSecretKey(new Uint8Array([...seed, ...seed]))),
          format: 'der',
          type: 'pkcs8',
        }),
      ).export({ format: 'der', type: 'spki' });
      const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
      return { publicKey, secretKey: new Uint8Array([...seed, ...publicKey]) };
    });
    const sigs = await Promise.all(pairs.map((p) => ed.sign(p.secretKey, msg)));
    const again = await ed.sign(pairs[0]!.secretKey, msg);
    expect(hex(again)).toBe(hex(sigs[0]!));
    const ok = await Promise.all(pairs.map((p, i) => ed.verify(p.publicKey, msg, sigs[i]!)));
    expect(ok.every(Boolean)).toBe(true);
    expect(await ed.verify(pairs[1]!.publicKey, msg, sigs[0]!)).toBe(false);
  });
});

describe('signCanonical / verifyCanonical', () => {
  const value = { stream: 'acc/note', id: '01H', rev: 3, author: 'dev1' };

  it('verifies across implementations and is independent of key order', async () => {
    const sig = await signCanonical(webCryptoEd25519, kp.secretKey, 'hale/record-author/v1', value);
    const reordered = { author: 'dev1', rev: 3, id: '01H', stream: 'acc/note' };
    for (const ed of implementations) {
      expect(await verifyCanonical(ed, kp.publicKey, 'hale/record-author/v1', reordered, sig)).toBe(true);
    }
  });

  it('refuses another label, a changed value and bad labels', async () => {
    const sig = await signCanonical(tweetnaclEd25519, kp.secretKey, 'hale/record-author/v1', value);
    expect(await verifyCanonical(tweetnaclEd25519, kp.publicKey, 'hale/audit-entry/v1', value, sig)).toBe(
      false,
    );
    expect(
      await verifyCanonical(
        tweetnaclEd25519,
        kp.publicKey,
        'hale/record-author/v1',
        { ...value, rev: 4 },
        sig,
      ),
    ).toBe(false);
    await expect(signCanonical(tweetnaclEd25519, kp.secretKey, 'bad label', value)).rejects.toThrow(
      HaleCryptoError,
    );
    await expect(signCanonical(tweetnaclEd25519, kp.secretKey, '', value)).rejects.toThrow(HaleCryptoError);
    await expect(signCanonical(tweetnaclEd25519, kp.secretKey, 'x', { n: NaN })).rejects.toThrow(
      HaleCryptoError,
    );
  });

  it('answers false, never throws, for a value canonical JSON cannot write (no one can have signed it)', async () => {
    const sig = await signCanonical(tweetnaclEd25519, kp.secretKey, 'hale/record-author/v1', value);
    // As JSON.parse gives it from `"\ud800"`, valid JSON that a hostile peer may send.
    for (const odd of [
      { ...value, author: '\ud800' },
      { ...value, rev: NaN },
      { ...value, at: new Date(0) },
    ]) {
      for (const ed of implementations) {
        expect(await verifyCanonical(ed, kp.publicKey, 'hale/record-author/v1', odd, sig)).toBe(false);
      }
    }
    // A malformed label stays the caller's mistake.
    await expect(verifyCanonical(tweetnaclEd25519, kp.publicKey, 'bad label', value, sig)).rejects.toThrow(
      HaleCryptoError,
    );
  });
});
