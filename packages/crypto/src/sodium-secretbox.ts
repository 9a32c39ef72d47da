/**
 * The same XSalsa20-Poly1305 secretbox as tweetnacl's, from libsodium's WebAssembly build
 * (`libsodium-wrappers`): the same bytes (crypto_secretbox_easy = MAC ‖ ciphertext, as `nacl.secretbox`),
 * ≈3× tweetnacl's speed on a 1 KB value here (`npm run bench:crypto`). WebAssembly runs in Node and in
 * every browser the app supports, so this file imports no Node or DOM API; a host that cannot load it
 * (no WebAssembly, a CSP without `wasm-unsafe-eval`) gets null from `loadSodiumSecretbox` and keeps
 * tweetnacl, the reference (sodium-secretbox.test.ts cross-checks the two both ways).
 *
 * Invariants
 * - The wrapper's own functions copy each argument into a fresh allocation and free it without zeroing;
 *   these call the module's exported C functions on one scratch region instead, laid out
 *   `key ‖ nonce ‖ input ‖ output`, which holds a key or plaintext only during a call and is zeroed
 *   before the call returns (calls are synchronous: one region per thread is enough).
 * - The region grows (the old one zeroed and freed first) to the largest value seen; `HEAPU8` is read
 *   after every allocation, since growing WebAssembly memory replaces it.
 * Failure modes: lengths are checked by the caller (secretbox.ts); a box that does not authenticate
 * opens to null; a module without the functions used here is refused at load (null).
 */
import {
  SECRETBOX_KEY_LENGTH,
  SECRETBOX_MAC_LENGTH,
  SECRETBOX_NONCE_LENGTH,
  type FastSecretbox,
} from './secretbox';

/** The part of libsodium's Emscripten module these functions use (64-bit lengths as low, high words). */
export interface SodiumModule {
  readonly HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(pointer: number): void;
  _crypto_secretbox_easy(c: number, m: number, mLow: number, mHigh: number, n: number, k: number): number;
  _crypto_secretbox_open_easy(
    m: number,
    c: number,
    cLow: number,
    cHigh: number,
    n: number,
    k: number,
  ): number;
}

const isSodiumModule = (m: unknown): m is SodiumModule => {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  return (
    r['HEAPU8'] instanceof Uint8Array &&
    ['_malloc', '_free', '_crypto_secretbox_easy', '_crypto_secretbox_open_easy'].every(
      (name) => typeof r[name] === 'function',
    )
  );
};

/** A `FastSecretbox` over an initialised libsodium module (`sodium.libsodium` once `sodium.ready`). */
export function createSodiumSecretbox(module: SodiumModule): FastSecretbox {
  const K = SECRETBOX_KEY_LENGTH;
  const N = SECRETBOX_NONCE_LENGTH;
  const MAC = SECRETBOX_MAC_LENGTH;
  let capacity = 0;
  let base = 0;
  /** Room for an input of `size` bytes and an output of `size + MAC`; answers the region's address. */
  const region = (size: number): number => {
    if (size > capacity) {
      if (base !== 0) {
        module.HEAPU8.fill(0, base, base + K + N + 2 * capacity + MAC);
        module._free(base);
        base = 0;
        capacity = 0;
      }
      const next = Math.max(size, 4096);
      const address = module._malloc(K + N + 2 * next + MAC);
      if (address === 0) throw new RangeError('libsodium: out of memory');
      base = address;
      capacity = next;
    }
    return base;
  };
  const inputAt = (b: number) => b + K + N;
  const outputAt = (b: number) => b + K + N + capacity;
  return {
    name: 'libsodium',
    sealInto(out, message, nonce, key) {
      const b = region(message.length);
      const heap = module.HEAPU8;
      const input = inputAt(b);
      const output = outputAt(b);
      try {
        heap.set(key, b);
        heap.set(nonce, b + K);
        heap.set(message, input);
        module._crypto_secretbox_easy(output, input, message.length, 0, b + K, b);
        out.set(heap.subarray(output, output + MAC + message.length));
      } finally {
        heap.fill(0, b, input + message.length);
      }
    },
    open(box, nonce, key) {
      if (box.length < MAC) return null;
      const b = region(box.length);
      const heap = module.HEAPU8;
      const input = inputAt(b);
      const output = outputAt(b);
      const length = box.length - MAC;
      try {
        heap.set(key, b);
        heap.set(nonce, b + K);
        heap.set(box, input);
        if (module._crypto_secretbox_open_easy(output, input, box.length, 0, b + K, b) !== 0) return null;
        return heap.slice(output, output + length);
      } finally {
        heap.fill(0, b, b + K + N);
        heap.fill(0, output, output + length);
      }
    },
  };
}

/**
 * Loads libsodium's WebAssembly build and answers its secretbox, or null where it cannot run (no
 * WebAssembly, a policy that forbids compiling it, a module of another shape): the caller keeps tweetnacl.
 */
export async function loadSodiumSecretbox(): Promise<FastSecretbox | null> {
  try {
    const loaded = await import('libsodium-wrappers');
    const sodium = loaded.default;
    await sodium.ready;
    const module: unknown = (sodium as unknown as { libsodium?: unknown }).libsodium;
    return isSodiumModule(module) ? createSodiumSecretbox(module) : null;
  } catch {
    return null;
  }
}
