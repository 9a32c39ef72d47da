/**
 * tweetnacl secretbox (XSalsa20-Poly1305) for bulk data, without the wrapper's per-call copies.
 *
 * `nacl.secretbox` copies the message byte by byte into a fresh zero-padded array and allocates its
 * output twice (≈30% of a 1 KB seal, measured); these functions call tweetnacl's own
 * `lowlevel.crypto_secretbox` / `crypto_secretbox_open` on buffers laid out once, so the bytes are the
 * ones `nacl.secretbox` produces and opens (tested both ways).
 *
 * A faster implementation of the same box (`FastSecretbox`: libsodium's WebAssembly build,
 * sodium-secretbox.ts) is installed for the whole thread with `useSecretbox`, as a host injects its
 * Ed25519: the bytes stay these (cross-checked in sodium-secretbox.test.ts); tweetnacl stays the
 * reference and the fallback (`useSecretbox(null)`, or a host that installs none).
 *
 * Invariants: key 32 bytes and nonce 24 bytes (checked: the low-level functions check nothing); a fresh
 * random nonce per seal; scratch buffers hold plaintext only during a call and are zeroed before it
 * returns (calls are synchronous, so one scratch per thread is enough).
 * Failure modes: a bad key or nonce length throws HaleCryptoError INVALID_INPUT; a box that fails
 * authentication (or is shorter than its MAC) opens to null.
 */
import nacl from 'tweetnacl';
import { cryptoError } from './errors';
import { randomBytes } from './random';

export const SECRETBOX_KEY_LENGTH = nacl.secretbox.keyLength;
export const SECRETBOX_NONCE_LENGTH = nacl.secretbox.nonceLength;
export const SECRETBOX_MAC_LENGTH = nacl.secretbox.overheadLength;

type Box = (c: Uint8Array, m: Uint8Array, d: number, n: Uint8Array, k: Uint8Array) => number;
// tweetnacl exports its low-level functions at run time but declares none of them. Looked up per call
// (not captured), so they stay the library's own functions as seen by anyone observing them.
const lowlevel: { crypto_secretbox?: Box; crypto_secretbox_open?: Box } =
  (nacl as unknown as { lowlevel?: { crypto_secretbox?: Box; crypto_secretbox_open?: Box } }).lowlevel ?? {};

/** Leading zero bytes the low-level API wants before a message (ZEROBYTES) and a box (BOXZEROBYTES). */
const ZERO = 32;
const BOX_ZERO = 16;

/** The same secretbox as tweetnacl's, faster; installed per thread with `useSecretbox`. */
export interface FastSecretbox {
  readonly name: string;
  /** Writes `secretbox(message)` (MAC ‖ ciphertext, `message.length + 16` bytes) into `out`. */
  sealInto(out: Uint8Array, message: Uint8Array, nonce: Uint8Array, key: Uint8Array): void;
  /** Opens MAC ‖ ciphertext; null when it does not authenticate. */
  open(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Uint8Array | null;
}

let fast: FastSecretbox | null = null;

/** Installs `impl` for every seal and open of this thread (null: tweetnacl again). */
export function useSecretbox(impl: FastSecretbox | null): void {
  fast = impl;
}

/** The implementation this thread seals with: the installed one's name, or `tweetnacl`. */
export function secretboxName(): string {
  return fast?.name ?? 'tweetnacl';
}

const encoder = new TextEncoder();
let message: Uint8Array = new Uint8Array(4096);
let cipher: Uint8Array = new Uint8Array(4096);

const room = (buffer: Uint8Array, size: number): Uint8Array =>
  buffer.length >= size ? buffer : new Uint8Array(Math.max(size, buffer.length * 2));

const checkKey = (key: Uint8Array): void => {
  if (!(key instanceof Uint8Array) || key.length !== SECRETBOX_KEY_LENGTH) {
    throw cryptoError('INVALID_INPUT', `secretbox key must be ${SECRETBOX_KEY_LENGTH} bytes`);
  }
};

/**
 * Seals `plaintext` (bytes, or a string sealed as UTF-8) under `key` with a fresh random nonce and
 * answers `header ‖ nonce ‖ secretbox(plaintext)` in one array.
 */
export function sealSecretbox(
  header: Uint8Array,
  key: Uint8Array,
  plaintext: Uint8Array | string,
): Uint8Array {
  checkKey(key);
  if (fast !== null) return sealFast(fast, header, key, plaintext);
  const boxFn = lowlevel.crypto_secretbox;
  if (!boxFn) throw cryptoError('INVALID_INPUT', 'tweetnacl low-level secretbox is not available');
  // The nonce is drawn before any plaintext enters the scratch buffer, and the buffer is zeroed in
  // `finally`, so a throw (no CSPRNG, an output too large to allocate) leaves no plaintext behind.
  const nonce = randomBytes(SECRETBOX_NONCE_LENGTH);
  const most = typeof plaintext === 'string' ? plaintext.length * 3 : plaintext.length;
  message = room(message, ZERO + most);
  message.fill(0, 0, ZERO);
  let length = 0;
  try {
    if (typeof plaintext === 'string') {
      length = encoder.encodeInto(plaintext, message.subarray(ZERO)).written;
    } else {
      message.set(plaintext, ZERO);
      length = plaintext.length;
    }
    const h = header.length;
    // crypto_secretbox writes BOX_ZERO zero bytes, the MAC, then the ciphertext. Placed so the zero bytes
    // fall on the nonce's last 16 bytes, which are written afterwards: no copy of the box.
    const out = new Uint8Array(h + SECRETBOX_NONCE_LENGTH + SECRETBOX_MAC_LENGTH + length);
    boxFn(out.subarray(h + SECRETBOX_NONCE_LENGTH - BOX_ZERO), message, ZERO + length, nonce, key);
    out.set(header, 0);
    out.set(nonce, h);
    return out;
  } finally {
    message.fill(0, ZERO, ZERO + length);
  }
}

function sealFast(impl: FastSecretbox, header: Uint8Array, key: Uint8Array, plaintext: Uint8Array | string) {
  const nonce = randomBytes(SECRETBOX_NONCE_LENGTH);
  let view = plaintext as Uint8Array;
  let length = 0;
  try {
    if (typeof plaintext === 'string') {
      message = room(message, plaintext.length * 3);
      length = encoder.encodeInto(plaintext, message).written;
      view = message.subarray(0, length);
    }
    const h = header.length;
    const out = new Uint8Array(h + SECRETBOX_NONCE_LENGTH + SECRETBOX_MAC_LENGTH + view.length);
    impl.sealInto(out.subarray(h + SECRETBOX_NONCE_LENGTH), view, nonce, key);
    out.set(header, 0);
    out.set(nonce, h);
    return out;
  } finally {
    message.fill(0, 0, length);
  }
}

/** Opens `box` (MAC ‖ ciphertext, as `nacl.secretbox` returns it); null when it does not authenticate. */
export function openSecretbox(key: Uint8Array, nonce: Uint8Array, box: Uint8Array): Uint8Array | null {
  checkKey(key);
  if (!(nonce instanceof Uint8Array) || nonce.length !== SECRETBOX_NONCE_LENGTH) {
    throw cryptoError('INVALID_INPUT', `secretbox nonce must be ${SECRETBOX_NONCE_LENGTH} bytes`);
  }
  if (fast !== null) return fast.open(box, nonce, key);
  const openFn = lowlevel.crypto_secretbox_open;
  if (!openFn) throw cryptoError('INVALID_INPUT', 'tweetnacl low-level secretbox is not available');
  if (box.length < SECRETBOX_MAC_LENGTH) return null;
  const d = BOX_ZERO + box.length;
  cipher = room(cipher, d);
  message = room(message, d);
  cipher.fill(0, 0, BOX_ZERO);
  cipher.set(box, BOX_ZERO);
  if (openFn(message, cipher, d, nonce, key) !== 0) return null;
  try {
    return message.slice(ZERO, d);
  } finally {
    message.fill(0, 0, d);
  }
}
