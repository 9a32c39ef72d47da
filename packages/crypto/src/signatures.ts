/**
 * Ed25519 signatures behind one async interface with interchangeable implementations:
 * tweetnacl (pure JS, ≈150 sign/s), WebCrypto (`crypto.subtle`, native) and any synchronous
 * implementation injected by the host (e.g. node:crypto on the server).
 *
 * Invariants: all implementations produce identical signatures (Ed25519 is deterministic) and
 * accept exactly the same set: every `verify` first requires a 32-byte public key, a 64-byte
 * signature and a canonical scalar S < L (tweetnacl alone would accept S + L, a malleated copy),
 * and refuses a public key or R that encodes a point of order dividing 8 (with either sign bit) or
 * has y ≥ p (a non-canonical encoding): with those a signature can hold without anyone's secret key
 * (the neutral key verifies (R = neutral, S = 0) for every message, on all three), and implementations
 * differ on non-canonical encodings. So an implementation switch never changes which signatures are
 * valid, and a key that verifies a signature was made from a secret key. Secret keys use the
 * tweetnacl 64-byte layout seed ‖ publicKey. Signed payloads are domain separated:
 * message = utf8(label) ‖ 0x00 ‖ canonicalJson(value), with labels like "hale/device-cert/v1".
 * Failure modes: `verify` never throws — any malformed input or internal error → false;
 * `sign` with a malformed secret key throws HaleCryptoError INVALID_INPUT. The WebCrypto key cache
 * is bounded and keyed by a hash of the seed, never by the seed itself.
 * Imported private keys (WebCrypto's and node:crypto's, each kept by `createPrivateKeyCache`) live only
 * until `forgetCachedKeys`, which drops those of every implementation in this JavaScript realm (a
 * worker has its own): an account that locks calls it, so no key object of its stays reachable through a
 * cache. It drops the keys of accounts still unlocked too; they are imported again at their next
 * signature. Imported public keys are kept: they are no secret. The PKCS#8 encoding WebCrypto imports a
 * seed from is made only to import it and zeroed once imported (node:crypto's is the node entry's).
 */
import nacl from 'tweetnacl';
import { cryptoError } from './errors';
import { base64urlEncode, concatBytes, constantTimeEqual, hexDecode, utf8Encode } from './encoding';
import { canonicalBytes } from './canonical-json';
import { labeledSha256, sha256 } from './hash';

/** Function-valued properties (no `this`), so methods can be passed around unbound. */
export interface Ed25519 {
  readonly name: string;
  readonly sign: (secretKey64: Uint8Array, msg: Uint8Array) => Promise<Uint8Array>;
  readonly verify: (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => Promise<boolean>;
}

export interface SyncEd25519 {
  readonly name: string;
  readonly sign: (secretKey64: Uint8Array, msg: Uint8Array) => Uint8Array;
  readonly verify: (publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array) => boolean;
}

/** Domain label of device certificates (the other signed payloads carry their label, see @hale/protocol). */
export const DEVICE_CERTIFICATE_LABEL = 'hale/device-cert/v1';

const hex = (h: string): Uint8Array => {
  const r = hexDecode(h);
  if (!r.ok) throw new Error('bad constant');
  return r.value;
};

/** DER prefix of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
export const ED25519_PKCS8_PREFIX = hex('302e020100300506032b657004220420');
/** DER prefix of an SPKI Ed25519 public key; the 32-byte key follows. */
export const ED25519_SPKI_PREFIX = hex('302a300506032b6570032100');

/** Group order L, little-endian, as Ed25519 encodes S. */
const ORDER_L = hex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');

function isCanonicalScalar(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i]!;
    const l = ORDER_L[i]!;
    if (s !== l) return s < l;
  }
  return false; // S == L
}

/** The field prime p = 2^255 − 19, little-endian, as a point encoding writes y. */
const FIELD_P = hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');

/**
 * y of the 8 points of order dividing 8, compared with the sign bit masked: y = 0 (order 4, two points),
 * y = 1 (the neutral element), y = p − 1 (order 2) and two y of order 8 (two points each). Masking the
 * sign bit also catches x = 0 written with the sign bit set, which RFC 8032 decoding refuses.
 */
const SMALL_ORDER_Y = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
].map(hex);

/** Byte i of a point encoding's y (the top bit of byte 31 is x's sign). */
const yByte = (point: Uint8Array, offset: number, i: number): number =>
  i === 31 ? point[offset + 31]! & 0x7f : point[offset + i]!;

/** Whether the 32 bytes at `offset` are a canonical encoding (y < p) of no point of order dividing 8. */
function isAcceptablePoint(point: Uint8Array, offset: number): boolean {
  let belowP = false;
  for (let i = 31; i >= 0; i--) {
    const b = yByte(point, offset, i);
    if (b !== FIELD_P[i]!) {
      belowP = b < FIELD_P[i]!;
      break;
    }
  }
  if (!belowP) return false;
  return !SMALL_ORDER_Y.some((y) => y.every((b, i) => yByte(point, offset, i) === b));
}

const wellFormed = (publicKey: Uint8Array, sig: Uint8Array): boolean =>
  publicKey instanceof Uint8Array &&
  publicKey.length === 32 &&
  sig instanceof Uint8Array &&
  sig.length === 64 &&
  isCanonicalScalar(sig) &&
  isAcceptablePoint(publicKey, 0) &&
  isAcceptablePoint(sig, 0);

function assertSecretKey(secretKey64: Uint8Array): void {
  if (!(secretKey64 instanceof Uint8Array) || secretKey64.length !== 64) {
    throw cryptoError('INVALID_INPUT', 'Ed25519 secret key must be 64 bytes (seed ‖ public key)');
  }
}

/**
 * The id an implementation caches an imported private key under: a labelled hash of the whole 64-byte
 * secret key (not its public half, which a mismatched key shares; never the secret itself).
 */
export const privateKeyCacheId = (secretKey64: Uint8Array): string =>
  base64urlEncode(labeledSha256('hale/key-cache/v1', secretKey64));

export function ed25519Pkcs8FromSecretKey(secretKey64: Uint8Array): Uint8Array {
  assertSecretKey(secretKey64);
  return concatBytes(ED25519_PKCS8_PREFIX, secretKey64.subarray(0, 32));
}

export function ed25519SpkiFromPublicKey(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) {
    throw cryptoError('INVALID_INPUT', 'Ed25519 public key must be 32 bytes');
  }
  return concatBytes(ED25519_SPKI_PREFIX, publicKey);
}

/** Wraps a synchronous implementation (e.g. node:crypto) with the shared input checks. */
export function createEd25519FromSync(impl: SyncEd25519): Ed25519 {
  return {
    name: impl.name,
    async sign(secretKey64, msg) {
      assertSecretKey(secretKey64);
      return impl.sign(secretKey64, msg);
    },
    async verify(publicKey, msg, sig) {
      if (!wellFormed(publicKey, sig)) return false;
      try {
        return impl.verify(publicKey, msg, sig);
      } catch {
        return false;
      }
    },
  };
}

/** Wraps an asynchronous implementation (e.g. node:crypto off the main thread) with the same checks. */
export function createEd25519FromAsync(impl: Ed25519): Ed25519 {
  return {
    name: impl.name,
    async sign(secretKey64, msg) {
      assertSecretKey(secretKey64);
      return impl.sign(secretKey64, msg);
    },
    async verify(publicKey, msg, sig) {
      if (!wellFormed(publicKey, sig)) return false;
      try {
        return await impl.verify(publicKey, msg, sig);
      } catch {
        return false;
      }
    },
  };
}

export const tweetnaclEd25519: Ed25519 = createEd25519FromSync({
  name: 'tweetnacl',
  sign: (secretKey64, msg) => nacl.sign.detached(msg, secretKey64),
  verify: (publicKey, msg, sig) => nacl.sign.detached.verify(msg, sig, publicKey),
});

/**
 * Every live private-key cache, so `forgetCachedKeys` reaches each; held weakly, so an implementation
 * nobody uses any more goes with its cache.
 */
const privateKeyCaches = new Set<WeakRef<{ clear(): void }>>();
const forgetDeadCache = new FinalizationRegistry<WeakRef<{ clear(): void }>>((ref) =>
  privateKeyCaches.delete(ref),
);

/**
 * A bounded cache of imported private keys (LRU, `limit` entries) that `forgetCachedKeys` empties. Keyed
 * by `privateKeyCacheId`, never by the secret; what an Ed25519 implementation keeps its imports in.
 */
export function createPrivateKeyCache<V>(limit: number) {
  const cache = createKeyCache<V>(limit);
  const ref = new WeakRef(cache);
  privateKeyCaches.add(ref);
  forgetDeadCache.register(cache, ref);
  return cache;
}

/** Drops every cached private key of every Ed25519 implementation in this realm (see the header). */
export function forgetCachedKeys(): void {
  for (const ref of privateKeyCaches) ref.deref()?.clear();
}

type Subtle = typeof globalThis.crypto.subtle;

/**
 * The DOM lib's WebCrypto takes only views of an ArrayBuffer (not of a SharedArrayBuffer); Hale's bytes
 * are never shared memory, so a view is passed as it is (typed so for a program with the DOM lib).
 */
const plain = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => bytes as Uint8Array<ArrayBuffer>;
type WebKey = Awaited<ReturnType<Subtle['importKey']>>;

const KEY_CACHE_LIMIT = 256;

/** Map with insertion-order eviction; a hit moves the entry to the back (LRU). */
/** A bounded map of imported keys (LRU, `limit` entries), keyed by an id, never by key material. */
export function createKeyCache<V>(limit: number) {
  const map = new Map<string, V>();
  return {
    get(key: string): V | undefined {
      const v = map.get(key);
      if (v !== undefined) {
        map.delete(key);
        map.set(key, v);
      }
      return v;
    },
    set(key: string, value: V): void {
      map.delete(key);
      map.set(key, value);
      while (map.size > limit) {
        const oldest = map.keys().next();
        if (oldest.done === true) break;
        map.delete(oldest.value);
      }
    },
    delete: (key: string) => map.delete(key),
    clear: () => map.clear(),
    get size() {
      return map.size;
    },
  };
}

/** WebCrypto Ed25519 over the given SubtleCrypto (defaults to the global one at call time). */
export function createWebCryptoEd25519(
  getSubtle: () => Subtle | undefined = () => globalThis.crypto?.subtle,
): Ed25519 {
  const privateKeys = createPrivateKeyCache<Promise<WebKey>>(KEY_CACHE_LIMIT);
  const publicKeys = createKeyCache<Promise<WebKey>>(KEY_CACHE_LIMIT);
  const subtle = (): Subtle => {
    const s = getSubtle();
    if (s === undefined) throw cryptoError('INVALID_INPUT', 'WebCrypto is not available');
    return s;
  };
  const cached = (
    cache: ReturnType<typeof createKeyCache<Promise<WebKey>>>,
    id: string,
    load: () => Promise<WebKey>,
  ): Promise<WebKey> => {
    let p = cache.get(id);
    if (p === undefined) {
      p = load();
      cache.set(id, p);
      // A failed import must not stay cached.
      p.catch(() => cache.delete(id));
    }
    return p;
  };
  return {
    name: 'webcrypto',
    async sign(secretKey64, msg) {
      assertSecretKey(secretKey64);
      const id = privateKeyCacheId(secretKey64);
      const key = await cached(privateKeys, id, async () => {
        // Built only to import (not on a cache hit), and zeroed once WebCrypto has its own copy: it holds
        // the seed, which must not outlive the zeroing of the secret key (an account's lock).
        const pkcs8 = ed25519Pkcs8FromSecretKey(secretKey64);
        try {
          return await subtle().importKey('pkcs8', plain(pkcs8), { name: 'Ed25519' }, false, ['sign']);
        } finally {
          pkcs8.fill(0);
        }
      });
      return new Uint8Array(await subtle().sign({ name: 'Ed25519' }, key, plain(msg)));
    },
    async verify(publicKey, msg, sig) {
      if (!wellFormed(publicKey, sig)) return false;
      try {
        const key = await cached(publicKeys, base64urlEncode(publicKey), () =>
          subtle().importKey('raw', plain(publicKey), { name: 'Ed25519' }, false, ['verify']),
        );
        return await subtle().verify({ name: 'Ed25519' }, key, plain(sig), plain(msg));
      } catch {
        return false;
      }
    },
  };
}

export const webCryptoEd25519: Ed25519 = createWebCryptoEd25519();

/**
 * Uses `candidate` only if it signs exactly like tweetnacl and verifies (and refuses) correctly
 * on a fixed key; otherwise tweetnacl.
 */
export async function detectEd25519(candidate: Ed25519): Promise<Ed25519> {
  try {
    const kp = nacl.sign.keyPair.fromSeed(labeledSha256('hale/ed25519-self-test/v1'));
    const msg = utf8Encode('hale ed25519 self-test');
    const expected = nacl.sign.detached(msg, kp.secretKey);
    const sig = await candidate.sign(kp.secretKey, msg);
    if (!constantTimeEqual(sig, expected)) return tweetnaclEd25519;
    if (!(await candidate.verify(kp.publicKey, msg, sig))) return tweetnaclEd25519;
    const forged = sig.slice();
    forged[0]! ^= 1;
    if (await candidate.verify(kp.publicKey, msg, forged)) return tweetnaclEd25519;
    return candidate;
  } catch {
    return tweetnaclEd25519;
  }
}

let chosen: Promise<Ed25519> | undefined;

/** The fastest working implementation here: WebCrypto when it supports Ed25519, else tweetnacl. */
export function chooseEd25519(): Promise<Ed25519> {
  chosen ??= detectEd25519(webCryptoEd25519);
  return chosen;
}

const LABEL = /^[\x21-\x7e]{1,128}$/;

/** utf8(label) ‖ 0x00 ‖ canonicalJson(value) — what signCanonical signs. */
const requireLabel = (label: string): void => {
  if (typeof label !== 'string' || !LABEL.test(label)) {
    throw cryptoError('INVALID_INPUT', 'signature label must be 1–128 printable ASCII characters');
  }
};

export function signingMessage(label: string, value: unknown): Uint8Array {
  requireLabel(label);
  return concatBytes(utf8Encode(label), Uint8Array.of(0), canonicalBytes(value));
}

export async function signCanonical(
  ed: Ed25519,
  secretKey64: Uint8Array,
  label: string,
  value: unknown,
): Promise<Uint8Array> {
  return ed.sign(secretKey64, signingMessage(label, value));
}

/**
 * Whether `sig` is `publicKey`'s signature over `value` under `label`. False, never a throw, for a value
 * canonical JSON cannot write (a lone surrogate in a string, a non-plain object: `signCanonical` would
 * have refused it, so no one signed it), as for any malformed input (see the header). A malformed label
 * is the caller's mistake and throws.
 */
export async function verifyCanonical(
  ed: Ed25519,
  publicKey: Uint8Array,
  label: string,
  value: unknown,
  sig: Uint8Array,
): Promise<boolean> {
  requireLabel(label);
  let message: Uint8Array;
  try {
    message = signingMessage(label, value);
  } catch {
    return false;
  }
  return ed.verify(publicKey, message, sig);
}

/**
 * Hash that links a signed entry to the same author's next one in a hash chain (audit log):
 * sha256(signingMessage(label, payload) ‖ sig), base64url. Covers the signature too, so an entry cannot be
 * swapped for a differently-signed twin without breaking the chain.
 */
export function chainLinkHash(payload: { readonly label: string }, sig: Uint8Array): string {
  return base64urlEncode(sha256(concatBytes(signingMessage(payload.label, payload), sig)));
}
