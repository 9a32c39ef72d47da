/**
 * Error vocabulary of @hale/crypto.
 *
 * Invariants: every expected failure of this package is reported with exactly one of the
 * `CryptoErrorCode` strings below, either as a `Result` (`{ ok: false, error }`) from functions
 * that open, decode or verify untrusted input, or as a thrown `HaleCryptoError` from functions
 * whose input is produced by the caller itself (programming errors such as a 31-byte key).
 * Codes are stable: other packages and the wire protocol may switch on them.
 * Messages never contain key material or plaintext.
 */

export const CRYPTO_ERROR_CODES = [
  'WRONG_KEY',
  'TAMPERED',
  'CONTEXT_MISMATCH',
  'TRUNCATED',
  'BAD_ENCODING',
  'UNSUPPORTED_VERSION',
  'INVALID_CHECKSUM',
  'BAD_SIGNATURE',
  'INVALID_INPUT',
] as const;

export type CryptoErrorCode = (typeof CRYPTO_ERROR_CODES)[number];

export interface CryptoError {
  readonly code: CryptoErrorCode;
  readonly message: string;
  /** For INVALID_CHECKSUM of a recovery key: 1-based index of the first group that failed its check. */
  readonly group?: number;
}

export type Result<T, E = CryptoError> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export class HaleCryptoError extends Error {
  readonly code: CryptoErrorCode;
  readonly group?: number;

  constructor(error: CryptoError) {
    super(error.message);
    this.name = 'HaleCryptoError';
    this.code = error.code;
    if (error.group !== undefined) this.group = error.group;
  }

  toJSON(): CryptoError {
    return this.group === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, group: this.group };
  }
}

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });

export const fail = (code: CryptoErrorCode, message: string, group?: number): Result<never> => ({
  ok: false,
  error: group === undefined ? { code, message } : { code, message, group },
});

export const cryptoError = (code: CryptoErrorCode, message: string): HaleCryptoError =>
  new HaleCryptoError({ code, message });

export const isHaleCryptoError = (e: unknown): e is HaleCryptoError => e instanceof HaleCryptoError;

/** Returns the value or throws the error as a `HaleCryptoError`. */
export function unwrapResult<T>(result: Result<T>): T {
  if (result.ok) return result.value;
  throw new HaleCryptoError(result.error);
}

/** Runs `fn`, turning a thrown `HaleCryptoError` into a failed Result; other errors propagate. */
export function tryResult<T>(fn: () => T): Result<T> {
  try {
    return ok(fn());
  } catch (e) {
    if (e instanceof HaleCryptoError) return { ok: false, error: e.toJSON() };
    throw e;
  }
}

/** Async variant of `tryResult`. */
export async function tryResultAsync<T>(fn: () => Promise<T>): Promise<Result<T>> {
  try {
    return ok(await fn());
  } catch (e) {
    if (e instanceof HaleCryptoError) return { ok: false, error: e.toJSON() };
    throw e;
  }
}
