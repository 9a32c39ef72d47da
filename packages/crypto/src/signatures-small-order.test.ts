import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import { createNodeEd25519 } from '../node/ed25519';
import { tweetnaclEd25519, webCryptoEd25519, type Ed25519 } from './index';

/*
 * Edwards25519 arithmetic in BigInt, written here (not taken from the code under test) to build the
 * small-order points and the signatures that only they make valid: public keys and R values of order
 * dividing 8 let a forger satisfy the verification equation without a secret key.
 */
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const mod = (a: bigint, m = P): bigint => ((a % m) + m) % m;
const pow = (b: bigint, e: bigint): bigint => {
  let r = 1n;
  let x = mod(b);
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) r = mod(r * x);
    x = mod(x * x);
  }
  return r;
};
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

type Point = readonly [x: bigint, y: bigint];
const IDENTITY: Point = [0n, 1n];
const add = ([x1, y1]: Point, [x2, y2]: Point): Point => {
  const t = mod(D * x1 * x2 * y1 * y2);
  return [mod((x1 * y2 + x2 * y1) * inv(1n + t)), mod((y1 * y2 + x1 * x2) * inv(1n - t))];
};
const neg = ([x, y]: Point): Point => [mod(-x), y];
const mul = (k: bigint, p: Point): Point => {
  let r = IDENTITY;
  let q = p;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) r = add(r, q);
    q = add(q, q);
  }
  return r;
};
const same = (a: Point, b: Point): boolean => a[0] === b[0] && a[1] === b[1];

/** The point with this y and x parity, if there is one (y is not reduced: the caller chooses y < p). */
function fromY(y: bigint, odd: boolean): Point | undefined {
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = pow(mod(u * inv(v)), (P + 3n) / 8n);
  if (mod(v * x * x - u) !== 0n) x = mod(x * SQRT_M1);
  if (mod(v * x * x - u) !== 0n) return undefined;
  if (x === 0n && odd) return undefined;
  return [((x & 1n) === 1n) === odd ? x : mod(-x), mod(y)];
}

/** Little-endian y with x's parity in the top bit; `yOffset` p gives the non-canonical twin (y + p). */
function encode([x, y]: Point, yOffset = 0n, signBit = x & 1n): Uint8Array {
  const out = new Uint8Array(32);
  let v = y + yOffset;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  out[31]! |= Number(signBit) << 7;
  return out;
}

const littleEndian = (bytes: Uint8Array): bigint =>
  bytes.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
const challenge = (r: Uint8Array, a: Uint8Array, m: Uint8Array): bigint =>
  mod(littleEndian(nacl.hash(new Uint8Array([...r, ...a, ...m]))), L);
const signature = (r: Uint8Array, s: bigint): Uint8Array => {
  const out = new Uint8Array(64);
  out.set(r);
  out.set(encode([0n, s]).subarray(0, 32), 32);
  return out;
};

const BASE = fromY(mod(4n * inv(5n)), false)!;

/** A point of order 8: the torsion part [L]Q of the first point Q (by y) whose torsion part has order 8. */
const ORDER_8 = ((): Point => {
  for (let y = 2n; ; y++) {
    const q = fromY(y, false);
    if (q === undefined) continue;
    const t = mul(L, q);
    if (!same(mul(4n, t), IDENTITY)) return t;
  }
})();
/** All 8 points of order dividing 8 (so [h]T = [h mod 8]T for each). */
const SMALL_ORDER = Array.from({ length: 8 }, (_, k) => mul(BigInt(k), ORDER_8));

const implementations: Ed25519[] = [tweetnaclEd25519, webCryptoEd25519, createNodeEd25519()];
const messages = Array.from({ length: 32 }, (_, i) => new TextEncoder().encode(`message ${i}`));

interface Forgery {
  readonly a: Uint8Array;
  readonly m: Uint8Array;
  readonly sig: Uint8Array;
}

/** How many of `cases` each implementation accepts, by name. */
async function accepted(cases: readonly Forgery[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const ed of implementations) {
    const results = await Promise.all(cases.map((c) => ed.verify(c.a, c.m, c.sig)));
    counts[ed.name] = results.filter(Boolean).length;
  }
  return counts;
}

describe('Ed25519 verify refuses small-order and non-canonical encodings on every implementation', () => {
  it('the arithmetic here is right: 8 distinct points of order dividing 8, and a key tweetnacl makes', () => {
    expect(new Set(SMALL_ORDER.map((p) => `${p[0]},${p[1]}`)).size).toBe(8);
    for (const p of SMALL_ORDER) expect(same(mul(8n, p), IDENTITY)).toBe(true);
    const kp = nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(9));
    const scalar = littleEndian(nacl.hash(new Uint8Array(32).fill(9)).subarray(0, 32));
    const clamped = (scalar & ((1n << 254n) - 8n)) | (1n << 254n);
    expect(Buffer.from(encode(mul(clamped, BASE))).toString('hex')).toBe(
      Buffer.from(kp.publicKey).toString('hex'),
    );
  });

  it('a small-order public key, in any of its encodings, verifies nothing', async () => {
    // Canonical encodings, the x = 0 points with the sign bit set, and y + p wherever it fits in 255 bits.
    const keys = SMALL_ORDER.flatMap((point) =>
      [
        encode(point),
        ...(point[0] === 0n ? [encode(point, 0n, 1n)] : []),
        ...(point[1] + P < 2n ** 255n ? [encode(point, P), encode(point, P, 1n)] : []),
      ].map((bytes) => ({ point, bytes })),
    );
    const distinct = [...new Map(keys.map((k) => [Buffer.from(k.bytes).toString('hex'), k])).values()];
    expect(distinct.length).toBe(14);
    // A forgery that needs no secret: S = 0 and R = −[h]A, so [S]B = R + [h]A.
    const forged: Forgery[] = [];
    for (const { point, bytes: a } of distinct) {
      const multiples = Array.from({ length: 8 }, (_, k) => mul(BigInt(k), point));
      for (const m of messages.slice(0, 4)) {
        for (const r of SMALL_ORDER) {
          const rBytes = encode(r);
          if (same(r, neg(multiples[Number(challenge(rBytes, a, m) % 8n)]!)))
            forged.push({ a, m, sig: signature(rBytes, 0n) });
        }
      }
    }
    // The forgeries are real: the curve arithmetic alone (tweetnacl unguarded) takes them.
    expect(forged.filter((c) => nacl.sign.detached.verify(c.m, c.sig, c.a)).length).toBeGreaterThan(14);
    expect(await accepted(forged)).toEqual({ tweetnacl: 0, webcrypto: 0, 'node:crypto': 0 });
  });

  it('a small-order or non-canonical R verifies nothing, even under a key that is neither', async () => {
    // A = [a]B + T with T of order 8: a canonical key of mixed order. With R = −[h]T and S = a·h,
    // [S]B = R + [h]A holds for a message whose h makes it so: R makes it valid, not a secret key.
    const a = 0x1234567890abcdefn;
    const key = encode(add(mul(a, BASE), ORDER_8));
    const canonical: Forgery[] = [];
    const nonCanonical: Forgery[] = [];
    for (const m of messages) {
      for (const r of SMALL_ORDER) {
        const forms: Array<[Uint8Array, Forgery[]]> = [[encode(r), canonical]];
        if (r[1] + P < 2n ** 255n) forms.push([encode(r, P), nonCanonical]);
        for (const [rBytes, into] of forms) {
          const h = challenge(rBytes, key, m);
          if (same(r, neg(mul(h % 8n, ORDER_8))))
            into.push({ a: key, m, sig: signature(rBytes, mod(a * h, L)) });
        }
      }
    }
    expect(canonical.filter((c) => nacl.sign.detached.verify(c.m, c.sig, c.a)).length).toBeGreaterThan(8);
    expect(nonCanonical.length).toBeGreaterThan(0);
    expect(await accepted([...canonical, ...nonCanonical])).toEqual({
      tweetnacl: 0,
      webcrypto: 0,
      'node:crypto': 0,
    });
  });

  it('a key of mixed order is not refused: it verifies what the (cofactorless) equation holds for', async () => {
    const a = 0x1234567890abcdefn;
    const key = encode(add(mul(a, BASE), ORDER_8));
    const rScalar = 77n;
    const rBytes = encode(mul(rScalar, BASE));
    const sigs = messages.map((m) => {
      const h = challenge(rBytes, key, m);
      // R + [h]A = [r + ah]B + [h]T: equal to [S]B only where [h]T is the identity.
      return {
        a: key,
        m,
        sig: signature(rBytes, mod(rScalar + a * h, L)),
        holds: same(mul(h % 8n, ORDER_8), IDENTITY),
      };
    });
    const holding = sigs.filter((c) => c.holds).length;
    expect(holding).toBeGreaterThan(0);
    expect(await accepted(sigs)).toEqual({ tweetnacl: holding, webcrypto: holding, 'node:crypto': holding });
  });
});
