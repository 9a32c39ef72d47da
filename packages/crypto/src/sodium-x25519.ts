/**
 * X25519 from libsodium's WebAssembly build (`crypto_scalarmult`, `crypto_scalarmult_base`): the same
 * outputs as tweetnacl's scalarMult (sodium-x25519.test.ts cross-checks them), ≈14× faster here, so a
 * device opening thousands of key envelopes (a clinician's unlock) does not spend seconds on them.
 *
 * Invariants
 * - `sharedSecret` answers the raw output, all-zero included, as the X25519 interface asks: libsodium
 *   refuses a small-order public key (-1) where X25519 of a clamped scalar gives all zeroes; that refusal
 *   answers 32 zero bytes (the sealer refuses those).
 * - One scratch region per instance holds the secret only during a call and is zeroed before it returns.
 * - `lateX25519` answers tweetnacl's until the load resolved, then this one (the same outputs either way).
 * Failure modes: no WebAssembly, or a module without these functions: `loadSodiumX25519` answers null.
 */
import { cryptoError } from './errors';
import { tweetnaclX25519, type X25519 } from './stream-keys';

/** The part of libsodium's Emscripten module used here. */
export interface SodiumScalarmult {
  readonly HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _crypto_scalarmult(q: number, n: number, p: number): number;
  _crypto_scalarmult_base(q: number, n: number): number;
}

const isScalarmult = (m: unknown): m is SodiumScalarmult => {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return (
    r['HEAPU8'] instanceof Uint8Array &&
    ['_malloc', '_crypto_scalarmult', '_crypto_scalarmult_base'].every((n) => typeof r[n] === 'function')
  );
};

const check = (bytes: Uint8Array, what: string): void => {
  if (bytes.length !== 32) throw cryptoError('INVALID_INPUT', `X25519 ${what}: 32 bytes expected`);
};

/** An X25519 over an initialised libsodium module. */
export function createSodiumX25519(module: SodiumScalarmult): X25519 {
  // Laid out secret ‖ public ‖ output.
  const base = module._malloc(96);
  if (base === 0) throw new RangeError('libsodium: out of memory');
  const run = (secretKey: Uint8Array, publicKey: Uint8Array | null): Uint8Array => {
    check(secretKey, 'secret key');
    if (publicKey) check(publicKey, 'public key');
    const heap = module.HEAPU8;
    try {
      heap.set(secretKey, base);
      let rc: number;
      if (publicKey) {
        heap.set(publicKey, base + 32);
        rc = module._crypto_scalarmult(base + 64, base, base + 32);
      } else rc = module._crypto_scalarmult_base(base + 64, base);
      return rc === 0 ? heap.slice(base + 64, base + 96) : new Uint8Array(32);
    } finally {
      heap.fill(0, base, base + 96);
    }
  };
  return {
    name: 'libsodium',
    publicKey: (secretKey) => run(secretKey, null),
    sharedSecret: (secretKey, publicKey) => run(secretKey, publicKey),
  };
}

/** Loads libsodium's WebAssembly build and answers its X25519, or null where it cannot run. */
export async function loadSodiumX25519(): Promise<X25519 | null> {
  try {
    const loaded = await import('libsodium-wrappers');
    const sodium = loaded.default;
    await sodium.ready;
    const module: unknown = (sodium as unknown as { libsodium?: unknown }).libsodium;
    return isScalarmult(module) ? createSodiumX25519(module) : null;
  } catch {
    return null;
  }
}

/**
 * An X25519 that is tweetnacl's until `load` resolves with a faster one (the same outputs), then that
 * one: a synchronous X25519 for a host whose fast one loads asynchronously. A failed load keeps tweetnacl.
 */
export function lateX25519(load: () => Promise<X25519 | null>): X25519 & { readonly ready: Promise<void> } {
  let impl: X25519 = tweetnaclX25519;
  const ready = load().then(
    (fast) => {
      if (fast) impl = fast;
    },
    () => undefined,
  );
  return {
    get name() {
      return impl.name;
    },
    publicKey: (secretKey) => impl.publicKey(secretKey),
    sharedSecret: (secretKey, publicKey) => impl.sharedSecret(secretKey, publicKey),
    ready,
  };
}
