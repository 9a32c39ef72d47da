/**
 * Passphrase wrapping of the root secret (so a new device can join with a passphrase).
 *
 * Invariants: kek = KDF(NFKC(passphrase), salt) with the KDF parameters stored beside the
 * ciphertext (`{ v: 1, kdf, nonce, ct }`, JSON-safe, binary as base64url); the root is sealed with
 * secretbox under kek and a fresh random nonce; every wrap draws a fresh 16-byte salt, so
 * changing the passphrase (unwrap + wrap) also changes the salt. Parameters read from a blob are
 * bounded before use, so a hostile blob cannot make a device allocate gigabytes or spin for minutes.
 * Failure modes (Result): malformed blob or out-of-range parameters → INVALID_INPUT, bad base64url →
 * BAD_ENCODING, unknown blob version or KDF → UNSUPPORTED_VERSION, MAC failure → WRONG_KEY
 * (a wrong passphrase and a modified blob cannot be told apart). Wrapping with bad input throws
 * HaleCryptoError INVALID_INPUT.
 */
import nacl from 'tweetnacl';
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { fail, ok, cryptoError, tryResultAsync, type Result } from './errors';
import { base64urlDecode, base64urlEncode, utf8Encode } from './encoding';
import { randomBytes } from './random';
import { assertLength } from './account-keys';
import { ROOT_SECRET_LENGTH } from './root';

export interface ScryptParams {
  readonly alg: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly dkLen: number;
  /** base64url */
  readonly salt: string;
}

export interface Argon2idParams {
  readonly alg: 'argon2id';
  /** memory in KiB */
  readonly m: number;
  readonly t: number;
  readonly p: number;
  readonly dkLen: number;
  /** base64url */
  readonly salt: string;
}

export type KdfParams = ScryptParams | Argon2idParams;

/** KDF parameters without the salt (a fresh salt is drawn for every wrap). */
export type KdfSettings = Omit<ScryptParams, 'salt'> | Omit<Argon2idParams, 'salt'>;

export interface PassphraseWrappedRoot {
  readonly v: 1;
  readonly kdf: KdfParams;
  /** base64url, 24 bytes */
  readonly nonce: string;
  /** base64url secretbox of the 32-byte root */
  readonly ct: string;
}

/** Production cost: scrypt N=2^17, r=8, p=1 (≈0.5 s, 128 MiB on the reference machine). */
export const PRODUCTION_KDF: Omit<ScryptParams, 'salt'> = Object.freeze({
  alg: 'scrypt',
  N: 2 ** 17,
  r: 8,
  p: 1,
  dkLen: 32,
});

/** Alternative production setting: argon2id m=64 MiB, t=3 (≈2 s in JS). */
export const PRODUCTION_KDF_ARGON2ID: Omit<Argon2idParams, 'salt'> = Object.freeze({
  alg: 'argon2id',
  m: 64 * 1024,
  t: 3,
  p: 1,
  dkLen: 32,
});

/** TEST ONLY — trivially cheap parameters so test suites stay fast. Never use for real data. */
export const TEST_KDF: Omit<ScryptParams, 'salt'> = Object.freeze({
  alg: 'scrypt',
  N: 2 ** 10,
  r: 1,
  p: 1,
  dkLen: 32,
});

const SALT_LENGTH = 16;
/**
 * Bounds on parameters read from a blob (which the server hands a joining device before anything about
 * it can be verified): at most 4× the production settings in memory and in work, so a hostile blob costs
 * a few seconds at most (measured here: scrypt 128 MiB·8 ≈ 0.7 s; 1 GiB·p=16 was ≈ 90 s before these
 * work caps).
 */
const LIMITS = {
  scryptMaxN: 2 ** 20,
  scryptMaxR: 32,
  scryptMaxP: 16,
  scryptMaxMemory: 4 * 128 * 1024 ** 2, // 128·N·r bytes, 4× PRODUCTION_KDF's 128 MiB
  scryptMaxWork: 4 * 2 ** 17 * 8, // N·r·p, 4× PRODUCTION_KDF
  argonMaxM: 4 * 64 * 1024, // KiB = 256 MiB, 4× PRODUCTION_KDF_ARGON2ID
  argonMaxT: 16,
  argonMaxP: 8,
  argonMaxWork: 4 * 64 * 1024 * 3, // m·t, 4× PRODUCTION_KDF_ARGON2ID
} as const;

const isInt = (v: unknown, min: number, max: number): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

/** Validates KDF settings (with or without salt); returns a message when out of range. */
function settingsProblem(kdf: Record<string, unknown>): string | undefined {
  if (kdf['dkLen'] !== 32) return 'dkLen must be 32';
  if (kdf['alg'] === 'scrypt') {
    const { N, r, p } = kdf;
    if (!isInt(N, 2, LIMITS.scryptMaxN) || (N & (N - 1)) !== 0)
      return 'scrypt N must be a power of two ≤ 2^20';
    if (!isInt(r, 1, LIMITS.scryptMaxR)) return 'scrypt r out of range';
    if (!isInt(p, 1, LIMITS.scryptMaxP)) return 'scrypt p out of range';
    if (128 * N * r > LIMITS.scryptMaxMemory) return 'scrypt memory above 512 MiB';
    if (N * r * p > LIMITS.scryptMaxWork) return 'scrypt cost (N·r·p) above 4× the production setting';
    return undefined;
  }
  if (kdf['alg'] === 'argon2id') {
    const { m, t, p } = kdf;
    if (!isInt(p, 1, LIMITS.argonMaxP)) return 'argon2id p out of range';
    if (!isInt(m, 8 * p, LIMITS.argonMaxM)) return 'argon2id m out of range';
    if (!isInt(t, 1, LIMITS.argonMaxT)) return 'argon2id t out of range';
    if (m * t > LIMITS.argonMaxWork) return 'argon2id cost (m·t) above 4× the production setting';
    return undefined;
  }
  return 'unsupported';
}

const passphraseBytes = (passphrase: string): Uint8Array => utf8Encode(passphrase.normalize('NFKC'));

async function deriveKek(passphrase: string, kdf: KdfParams, salt: Uint8Array): Promise<Uint8Array> {
  const pw = passphraseBytes(passphrase);
  if (kdf.alg === 'scrypt') {
    return scryptAsync(pw, salt, {
      N: kdf.N,
      r: kdf.r,
      p: kdf.p,
      dkLen: 32,
      maxmem: LIMITS.scryptMaxMemory + 4096,
    });
  }
  return argon2idAsync(pw, salt, { m: kdf.m, t: kdf.t, p: kdf.p, dkLen: 32 });
}

/**
 * True when `kdf` costs at least as much as PRODUCTION_KDF (or its argon2id alternative), in memory as
 * well as in work: scrypt's p lanes reuse the same 128·N·r bytes one after another, so a higher p with a
 * smaller N·r buys time an attacker's parallel hardware does not pay for.
 */
export function isProductionStrength(kdf: KdfSettings): boolean {
  if (kdf.alg === 'scrypt')
    return (
      kdf.N * kdf.r >= PRODUCTION_KDF.N * PRODUCTION_KDF.r &&
      kdf.N * kdf.r * kdf.p >= PRODUCTION_KDF.N * PRODUCTION_KDF.r * PRODUCTION_KDF.p
    );
  return kdf.m >= PRODUCTION_KDF_ARGON2ID.m && kdf.t >= PRODUCTION_KDF_ARGON2ID.t;
}

export async function wrapRootWithPassphrase(
  root: Uint8Array,
  passphrase: string,
  settings: KdfSettings = PRODUCTION_KDF,
): Promise<PassphraseWrappedRoot> {
  assertLength(root, ROOT_SECRET_LENGTH, 'root secret');
  if (typeof passphrase !== 'string' || passphrase.length === 0) {
    throw cryptoError('INVALID_INPUT', 'passphrase must be a non-empty string');
  }
  const problem = settingsProblem({ ...settings });
  if (problem !== undefined) throw cryptoError('INVALID_INPUT', `kdf: ${problem}`);
  const salt = randomBytes(SALT_LENGTH);
  const kdf: KdfParams = { ...settings, salt: base64urlEncode(salt) };
  const kek = await deriveKek(passphrase, kdf, salt);
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const ct = nacl.secretbox(root, nonce, kek);
  kek.fill(0);
  return { v: 1, kdf, nonce: base64urlEncode(nonce), ct: base64urlEncode(ct) };
}

function parseBlob(
  blob: unknown,
): Result<{ kdf: KdfParams; salt: Uint8Array; nonce: Uint8Array; ct: Uint8Array }> {
  if (typeof blob !== 'object' || blob === null) return fail('INVALID_INPUT', 'wrapped root: not an object');
  const b = blob as Record<string, unknown>;
  if (b['v'] !== 1)
    return fail('UNSUPPORTED_VERSION', `wrapped root: version ${String(b['v'])} not supported`);
  const kdf = b['kdf'];
  if (typeof kdf !== 'object' || kdf === null) return fail('INVALID_INPUT', 'wrapped root: kdf missing');
  const k = kdf as Record<string, unknown>;
  if (k['alg'] !== 'scrypt' && k['alg'] !== 'argon2id') {
    return fail('UNSUPPORTED_VERSION', `wrapped root: kdf ${String(k['alg'])} not supported`);
  }
  const problem = settingsProblem(k);
  if (problem !== undefined) return fail('INVALID_INPUT', `wrapped root: kdf ${problem}`);
  if (typeof k['salt'] !== 'string' || typeof b['nonce'] !== 'string' || typeof b['ct'] !== 'string') {
    return fail('INVALID_INPUT', 'wrapped root: salt, nonce and ct must be strings');
  }
  const salt = base64urlDecode(k['salt']);
  const nonce = base64urlDecode(b['nonce']);
  const ct = base64urlDecode(b['ct']);
  if (!salt.ok) return salt;
  if (!nonce.ok) return nonce;
  if (!ct.ok) return ct;
  if (salt.value.length < 8) return fail('INVALID_INPUT', 'wrapped root: salt too short');
  if (nonce.value.length !== nacl.secretbox.nonceLength)
    return fail('INVALID_INPUT', 'wrapped root: bad nonce');
  if (ct.value.length !== ROOT_SECRET_LENGTH + nacl.secretbox.overheadLength) {
    return fail('TRUNCATED', 'wrapped root: ciphertext has the wrong length');
  }
  const params: KdfParams =
    k['alg'] === 'scrypt'
      ? {
          alg: 'scrypt',
          N: k['N'] as number,
          r: k['r'] as number,
          p: k['p'] as number,
          dkLen: 32,
          salt: k['salt'],
        }
      : {
          alg: 'argon2id',
          m: k['m'] as number,
          t: k['t'] as number,
          p: k['p'] as number,
          dkLen: 32,
          salt: k['salt'],
        };
  return ok({ kdf: params, salt: salt.value, nonce: nonce.value, ct: ct.value });
}

export async function unwrapRootWithPassphrase(
  blob: unknown,
  passphrase: string,
): Promise<Result<Uint8Array>> {
  const parsed = parseBlob(blob);
  if (!parsed.ok) return parsed;
  if (typeof passphrase !== 'string') return fail('INVALID_INPUT', 'passphrase must be a string');
  const { kdf, salt, nonce, ct } = parsed.value;
  const kek = await deriveKek(passphrase, kdf, salt);
  const root = nacl.secretbox.open(ct, nonce, kek);
  kek.fill(0);
  return root === null ? fail('WRONG_KEY', 'wrong passphrase (or the wrapped root was modified)') : ok(root);
}

/** Re-wraps the root under a new passphrase (new salt, new nonce); the old passphrase must open it. */
export async function changePassphrase(
  blob: unknown,
  oldPassphrase: string,
  newPassphrase: string,
  settings: KdfSettings = PRODUCTION_KDF,
): Promise<Result<PassphraseWrappedRoot>> {
  const root = await unwrapRootWithPassphrase(blob, oldPassphrase);
  if (!root.ok) return root;
  try {
    return await tryResultAsync(() => wrapRootWithPassphrase(root.value, newPassphrase, settings));
  } finally {
    root.value.fill(0);
  }
}
